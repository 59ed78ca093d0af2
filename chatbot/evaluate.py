"""`python -m chatbot eval [PATH...]`: play conversation scripts and report accuracy per intent.

The scripts are the YAML files of `chatbot.conversations` (the same loader and checker the
test-suite uses), so a clinic can write its own and run them. The report is a table of accuracy by
expected intent, each failing turn with what was expected beside what the reply did, and the total.
Exit status: 0 when every turn passes, 1 when any fails or a file cannot be used (one line on
stderr, never a traceback).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from chatbot import conversations
from chatbot.environment import Environment
from chatbot.status import ExitStatus
from chatbot.terminal import safe as _safe

DEFAULT_FOLDER = Path("tests") / "conversations"
NO_INTENT = "(intent not checked)"
_CELL = 44   # width of the "expected" column of a failure


@dataclass
class Report:
    """What a run of conversation scripts found: each conversation's turns, and those that broke."""

    played: list[tuple[conversations.Conversation, list[conversations.TurnResult]]] = field(
        default_factory=list)
    broken: list[tuple[conversations.Conversation, str]] = field(default_factory=list)

    @property
    def results(self) -> list[conversations.TurnResult]:
        return [result for _, results in self.played for result in results]

    @property
    def passed(self) -> int:
        return sum(r.ok for r in self.results)

    @property
    def total(self) -> int:
        return len(self.results) + sum(len(c.turns) for c, _ in self.broken)

    @property
    def ok(self) -> bool:
        return not self.broken and self.passed == len(self.results)

    @property
    def confidently_wrong(self) -> list[conversations.TurnResult]:
        return [r for r in self.results if _confidently_wrong(r)]

    @property
    def asked_back(self) -> list[conversations.TurnResult]:
        return [r for r in self.results if _asked_back(r)]

    def confusions(self) -> dict[tuple[str, str], int]:
        """(expected, got) -> how many failed turns, most first: what was taken for what."""
        counts: dict[tuple[str, str], int] = {}
        for result in self.results:
            if not result.ok:
                pair = (_intent_of(result.expect), str(result.reply.get("intent")))
                counts[pair] = counts.get(pair, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def by_intent(self) -> dict[str, tuple[int, int]]:
        """Expected intent -> (turns, passed); turns of a broken conversation count as failed."""
        counts: dict[str, list[int]] = {}
        for result in self.results:
            entry = counts.setdefault(_intent_of(result.expect), [0, 0])
            entry[0] += 1
            entry[1] += result.ok
        for conversation, _ in self.broken:
            for turn in conversation.turns:
                counts.setdefault(_intent_of(turn.expect), [0, 0])[0] += 1
        return {name: (turns, passed) for name, (turns, passed) in sorted(counts.items())}


def run(args, env: Environment) -> ExitStatus:
    """The `eval` command: load, play, report; an unusable path or file is one line on stderr."""
    paths = list(getattr(args, "paths", None) or [])
    if not paths:
        if not DEFAULT_FOLDER.is_dir():
            env.error(_safe(f"chatbot eval: there is no {DEFAULT_FOLDER} folder in {Path.cwd()}; name "
                            "the conversation files or folders to run: python -m chatbot eval PATH..."))
            return ExitStatus.ERROR
        paths = [DEFAULT_FOLDER]
    try:
        loaded = conversations.load(paths)
        _check_days(loaded)
        default_day = env.today()
    except UnicodeDecodeError:
        env.error(_safe(f"chatbot eval: {_undecodable(paths)}: not UTF-8 text"))
        return ExitStatus.ERROR
    except (ValueError, OSError) as error:
        env.error(_safe(f"chatbot eval: {error}"))
        return ExitStatus.ERROR
    if not loaded:
        env.error(_safe(f"chatbot eval: no conversations in {', '.join(str(p) for p in paths)} "
                        "(a folder is searched for *.yaml and *.yml files)"))
        return ExitStatus.ERROR

    report = evaluate(loaded, default_day)
    as_json = getattr(args, "json", False) or getattr(args, "json_here", False)
    if as_json:
        env.write(json.dumps(as_dict(report), ensure_ascii=False, default=str))
    else:
        for line in format_report(report):
            env.write(line)
    for conversation, problem in report.broken:
        env.error(_safe(f"chatbot eval: {conversation.origin} ({conversation.name}): {problem}"))
    return ExitStatus.OK if report.ok else ExitStatus.ERROR


def evaluate(loaded: list[conversations.Conversation], default_day: date) -> Report:
    """Play every conversation in a fresh session; one that raises is recorded, not fatal."""
    from chatbot.session import Chatbot
    bots: dict[date, Chatbot] = {}

    def bot_for(day: date | None) -> Chatbot:
        day = day or default_day
        if day not in bots:
            bots[day] = Chatbot(today=lambda: day)
        return bots[day]

    report = Report()
    for conversation in loaded:
        try:
            report.played.append((conversation, conversations.run(conversation, bot_for)))
        except Exception as error:   # a bad expectation or a failing turn: report it, go on
            report.broken.append((conversation, f"{type(error).__name__}: {error}"))
    return report


def _check_days(loaded: list[conversations.Conversation]) -> None:
    for conversation in loaded:
        if isinstance(conversation.today, datetime):
            conversation.today = conversation.today.date()
        elif conversation.today is not None and not isinstance(conversation.today, date):
            raise ValueError(f"{conversation.origin}: 'today' must be a date like 2026-11-27, "
                             f"not {conversation.today!r}")


def _undecodable(paths) -> str:
    """Which of the files named or found in `paths` is not UTF-8 (the loader's error omits it)."""
    for path in conversations._files(paths):
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            return str(path)
    return ", ".join(str(p) for p in paths)   # pragma: no cover - the error came from elsewhere


def _intent_of(expect: dict) -> str:
    if "topic" in expect:
        return "/".join(expect["topic"]["topics"])
    intent = expect.get("intent")
    return str(intent) if intent is not None else NO_INTENT


def _confidently_wrong(result: conversations.TurnResult) -> bool:
    """A reply that failed its check while claiming to answer (scope "answered"): the worst kind."""
    return not result.ok and result.reply.get("scope") == "answered"


def _asked_back(result: conversations.TurnResult) -> bool:
    return not result.ok and result.reply.get("follow_up") == "topic"


# -- the report ------------------------------------------------------------------------------------
def format_report(report: Report) -> list[str]:
    """The report as lines of plain text (what the person wrote is made safe for a terminal)."""
    lines = []
    by_intent = report.by_intent()
    width = max([len("intent")] + [len(name) for name in by_intent])
    lines.append(f"{'intent':<{width}}  turns  passed  accuracy")
    for name, (turns, passed) in by_intent.items():
        lines.append(f"{_safe(name):<{width}}  {turns:>5}  {passed:>6}  {_percent(passed, turns):>8}")

    for conversation, results in report.played:
        for result in results:
            if not result.ok:
                lines += [""] + _format_failure(conversation, result)
    for conversation, problem in report.broken:
        lines += ["", _safe(f"BROKEN {conversation.name} ({conversation.origin}): {problem}")]

    confusions = report.confusions()
    if confusions:
        pairs = [(_safe(expected), _safe(got), count) for (expected, got), count in confusions.items()]
        left = max(len("expected"), *(len(e) for e, _, _ in pairs))
        right = max(len("got"), *(len(g) for _, g, _ in pairs))
        lines += ["", "Confusions (failed turns, expected intent or topic -> the reply's intent):",
                  f"  {'expected':<{left}}  {'got':<{right}}  turns"]
        lines += [f"  {e:<{left}}  {g:<{right}}  {c:>5}" for e, g, c in pairs]

    conversations_passed = sum(all(r.ok for r in results) for _, results in report.played)
    total_conversations = len(report.played) + len(report.broken)
    wrong, asked = len(report.confidently_wrong), len(report.asked_back)
    lines += ["", f"Total: {report.passed}/{report.total} turns passed "
                  f"({_percent(report.passed, report.total)}), {conversations_passed}/"
                  f"{total_conversations} conversations passed.",
              f"Confidently wrong (failed with scope \"answered\"): {wrong}/{report.total} "
              f"({_percent(wrong, report.total)}); asked back (\"did you mean\"): {asked}."]
    return lines


def _format_failure(conversation: conversations.Conversation,
                    result: conversations.TurnResult) -> list[str]:
    reply = result.reply
    width = max([len("check")] + [len(m.key) for m in result.mismatches]) + 2
    lines = [f"FAIL {_safe(conversation.name)} ({_safe(conversation.origin)}), turn {result.index}",
             f"  user:  {_safe(result.user)}",
             f"  {'check':<{width}}{'expected':<{_CELL}}  got"]
    for mismatch in result.mismatches:
        expected, got = _cells(mismatch)
        lines.append(f"  {_safe(mismatch.key):<{width}}{_safe(_clip(expected)):<{_CELL}}  "
                     f"{_safe(_clip(got))}")
    lines.append(f"  (reply: intent {reply.get('intent')}, scope {reply.get('scope')}, "
                 f"sources {', '.join(reply.get('sources', [])) or 'none'})")
    lines += ["  | " + line for line in _safe(reply["text"]).splitlines() or [""]]
    return lines


def _cells(mismatch: conversations.Mismatch) -> tuple[str, str]:
    """What was expected and what the reply did, each as a short cell."""
    if mismatch.key == "says":
        return "says " + _phrases(mismatch.expected), "not in the reply (see below)"
    if mismatch.key == "not_says":
        return "does not say " + _phrases(mismatch.expected), "says it (see below)"
    return _value(mismatch.expected), _value(mismatch.got)


def _phrases(values) -> str:
    return ", ".join(json.dumps(str(v), ensure_ascii=False) for v in values)


def _value(value) -> str:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[" + ", ".join(value) + "]"
    return json.dumps(value, ensure_ascii=False, default=str)


def _clip(text: str, width: int = _CELL) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def as_dict(report: Report) -> dict:
    """The report as one JSON-ready object (`python -m chatbot --json eval`)."""
    return {
        "passed": report.passed,
        "total": report.total,
        "confidently_wrong": len(report.confidently_wrong),
        "asked_back": len(report.asked_back),
        "confusions": [{"expected": expected, "got": got, "turns": count}
                       for (expected, got), count in report.confusions().items()],
        "intents": {name: {"turns": turns, "passed": passed}
                    for name, (turns, passed) in report.by_intent().items()},
        "failures": [{"conversation": c.name, "origin": c.origin, "turn": r.index, "user": r.user,
                      "mismatches": [{"check": m.key, "expected": m.expected, "got": m.got}
                                     for m in r.mismatches],
                      "reply": r.reply} for c, results in report.played for r in results if not r.ok],
        "broken": [{"conversation": c.name, "origin": c.origin, "error": problem}
                   for c, problem in report.broken],
    }
