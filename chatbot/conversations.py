"""Conversation scripts: YAML files of user turns with what each reply must show.

Used by the test-suite (tests/conversations/) and by `python -m chatbot eval`, so a clinic can
write and run its own. One file holds a list of conversations:

    - name: alcohol is stated for Botox only
      today: 2026-11-27            # optional: pins "today" for dates
      turns:
        - user: Can I drink wine before fillers?
          intent: fillers_alcohol    # the reply's intent
          scope: partial             # answered | partial | out_of_scope
          sources: [BTX-ALCOHOL]     # exactly these IDs (any order); [] for none
          sources_include: [...]     # at least these IDs
          says: [Botox only, injector]   # each must appear in the text (case-insensitive)
          not_says: [fillers are fine]   # none may appear
          handoff: true
          follow_up: pregnant        # or null
          facts: {pregnant: false}   # these keys must have these values (others may exist)
          fired: [rule_name]         # these rules must have fired

A file may instead hold labelled questions, one message each (tests/heldout/, tests/questions/):

    - q: can i have a glass of wine the night before my tox?
      topic: alcohol               # or a list of acceptable topics, or out_of_scope / recommend /
      treatment: botox             #   screening; treatment (optional): botox | fillers | any
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

CHECKED_KEYS = ("intent", "scope", "sources", "sources_include", "says", "not_says", "handoff",
                "follow_up", "facts", "fired", "intents", "topic")
# What a question file's `topic` may also be besides a topic of the knowledge base.
READINGS = ("out_of_scope", "recommend", "screening")


@dataclass
class ExpectedTurn:
    """One user message and what its reply must show."""

    user: str
    expect: dict


@dataclass
class Conversation:
    """A named path of turns, run in one session."""

    name: str
    turns: list[ExpectedTurn]
    today: date | None = None
    origin: str = ""


@dataclass
class Mismatch:
    """One expectation a reply did not meet."""

    key: str
    expected: object
    got: object


@dataclass
class TurnResult:
    conversation: str
    index: int
    user: str
    expect: dict
    reply: dict
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def load(paths) -> list[Conversation]:
    """Every conversation in the given YAML files and folders (folders: every *.yaml inside)."""
    import yaml
    conversations = []
    for path in _files(paths):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML ({error.__class__.__name__})") from None
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not UTF-8 text") from None
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a list of conversations")
        for number, item in enumerate(data, 1):
            if isinstance(item, dict) and "q" in item:
                conversations.append(_question(item, f"{path}#{number}"))
            else:
                conversations.append(_conversation(item, f"{path}#{number}"))
    return conversations


def _files(paths) -> list[Path]:
    files = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
        elif path.is_file():
            files.append(path)
        else:
            raise ValueError(f"{path}: no such file or folder")
    return files


def _conversation(item, origin: str) -> Conversation:
    if not isinstance(item, dict) or "turns" not in item or not isinstance(item["turns"], list):
        raise ValueError(f"{origin}: a conversation needs 'name' and a list of 'turns'")
    turns = []
    for index, turn in enumerate(item["turns"], 1):
        if isinstance(turn, dict) and isinstance(turn.get("user"), (bool, int, float)):
            # YAML reads a bare `no` or `yes` as a boolean: a person typing "no" is meant.
            user = turn["user"]
            turn = dict(turn, user=("yes" if user else "no") if isinstance(user, bool) else str(user))
        if not isinstance(turn, dict) or not isinstance(turn.get("user"), str):
            raise ValueError(f"{origin} turn {index}: each turn needs a 'user' message")
        unknown = set(turn) - set(CHECKED_KEYS) - {"user", "note"}
        if unknown:
            raise ValueError(f"{origin} turn {index}: unknown keys {sorted(unknown)}")
        turns.append(ExpectedTurn(turn["user"], {k: v for k, v in turn.items() if k in CHECKED_KEYS}))
    today = item.get("today")
    if isinstance(today, str):
        today = date.fromisoformat(today)
    return Conversation(str(item.get("name", origin)), turns, today, origin)


def _question(item: dict, origin: str) -> Conversation:
    """A labelled question (`q`, `topic`, optional `treatment`): a conversation of one turn."""
    if not isinstance(item.get("q"), str) or "topic" not in item:
        raise ValueError(f"{origin}: a question needs 'q' (the message) and 'topic'")
    topics = item["topic"] if isinstance(item["topic"], list) else [item["topic"]]
    unknown = set(item) - {"q", "topic", "treatment", "note"}
    if unknown:
        raise ValueError(f"{origin}: unknown keys {sorted(unknown)}")
    expect = {"topic": {"topics": [str(t) for t in topics], "treatment": item.get("treatment")}}
    return Conversation(item["q"], [ExpectedTurn(item["q"], expect)], None, origin)


def reads_as(reply: dict, topics: list[str], treatment: str | None = None) -> bool:
    """Whether a reply reads the question as one of `topics` (for `treatment`, when given):
    a topic of the knowledge base, or "out_of_scope" (the reply says the article does not cover
    it and hands over), "recommend" or "screening"."""
    intents = reply.get("intents") or [reply["intent"]]
    for topic in topics:
        if topic == "out_of_scope":
            if reply["scope"] == "out_of_scope" or (
                    reply["scope"] == "partial" and reply["handoff"] and reply.get("follow_up") != "topic"):
                return True
        elif topic == "recommend":
            if any(i.startswith("recommend") for i in intents):
                return True
        elif topic in ("pregnancy", "breastfeeding", "allergy", "contraindications") and any(
                i.endswith("_contraindication") and (treatment in (None, "any") or i.startswith(treatment))
                for i in intents):
            return True   # "I'm pregnant, can I get filler?": the contraindication itself answers
        elif topic == "screening":
            if any(i.endswith(("_screening", "_verdict", "_contraindication")) for i in intents):
                return True
        else:
            for intent in intents:
                said_for, _, said = intent.partition("_") if intent.split("_", 1)[0] in (
                    "botox", "fillers") else ("any", "", intent)
                if said == topic and (treatment in (None, "any") or said_for in (treatment, "any")):
                    return True
    return False


def check(expect: dict, reply: dict) -> list[Mismatch]:
    """What of `expect` the reply (a Reply.to_dict()) does not meet."""
    problems = []
    text = reply["text"].casefold()
    for key, wanted in expect.items():
        if key == "sources":
            if sorted(wanted or []) != sorted(reply["sources"]):
                problems.append(Mismatch(key, wanted, reply["sources"]))
        elif key == "sources_include":
            if not set(wanted) <= set(reply["sources"]):
                problems.append(Mismatch(key, wanted, reply["sources"]))
        elif key == "says":
            missing = [w for w in _list(wanted) if str(w).casefold() not in text]
            if missing:
                problems.append(Mismatch(key, missing, reply["text"]))
        elif key == "not_says":
            present = [w for w in _list(wanted) if str(w).casefold() in text]
            if present:
                problems.append(Mismatch(key, present, reply["text"]))
        elif key == "facts":
            for name, value in (wanted or {}).items():
                if isinstance(value, date):
                    value = value.isoformat()   # YAML reads an unquoted 2026-12-04 as a date
                got = reply["facts"].get(name, "<absent>")
                if value == "<absent>" and name not in reply["facts"]:
                    continue
                if got != value:
                    problems.append(Mismatch(f"facts.{name}", value, got))
        elif key == "fired":
            missing = [r for r in _list(wanted) if r not in reply["fired"]]
            if missing:
                problems.append(Mismatch(key, missing, reply["fired"]))
        elif key == "topic":
            if not reads_as(reply, wanted["topics"], wanted.get("treatment")):
                label = "/".join(wanted["topics"]) + (f" ({wanted['treatment']})" if wanted.get("treatment")
                                                      else "")
                problems.append(Mismatch(key, label, reply.get("intent")))
        elif key == "intents":
            missing = [i for i in _list(wanted) if i not in reply.get("intents", [])]
            if missing:
                problems.append(Mismatch(key, missing, reply.get("intents")))
        elif reply.get(key) != wanted:
            problems.append(Mismatch(key, wanted, reply.get(key)))
    return problems


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


def run(conversation: Conversation, bot_factory) -> list[TurnResult]:
    """Play one conversation in a fresh session; `bot_factory(today)` gives a Chatbot."""
    from chatbot.commands import handle  # a script is what a person types: commands work too
    bot = bot_factory(conversation.today)
    session = bot.session()
    results = []
    for index, turn in enumerate(conversation.turns, 1):
        outcome = handle(session, turn.user)
        if outcome.quit:
            break
        reply = outcome.reply.to_dict()
        results.append(TurnResult(conversation.name, index, turn.user, turn.expect, reply,
                                  check(turn.expect, reply)))
    return results
