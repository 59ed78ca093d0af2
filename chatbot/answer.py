"""The answer a turn assembles: the rules' ReplyPart facts, ordered and rendered, as one Reply."""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field

# The order the pieces of one answer are shown in (templates not listed come in between).
FIRST = ("too_long", "urgent", "corrected", "contraindication", "contraindication_unsure", "verdict_stop")
LAST = ("verdict_ask", "verdict_ready", "both_planned", "date_question", "screening_question",
        "recommend_question",
        "noted", "not_understood")   # one check's verdict before the other's next question


@dataclass
class Reply:
    """One answer: the contract of DESIGN.md (`to_dict()` is the --json object)."""

    text: str
    intent: str
    scope: str
    sources: list[str]
    fired: list[str]
    follow_up: str | None
    handoff: bool
    facts: dict
    intents: list[str] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)   # short answers to offer, e.g. as buttons

    def to_dict(self) -> dict:
        return asdict(self)


def assemble(replies: list[dict], heard, facts: dict, renderer, rule_docs: dict,
             about: str = "self", who: str = "") -> Reply:
    """One Reply from the rules' pieces: ordered, rendered, with the IDs, scope and question."""
    replies = _ordered(replies)
    follow_ups = [r for r in replies if r["follow_up"]]   # one at most: one_question_at_a_time
    text = renderer.turn(replies, heard=heard, person=facts, rule_docs=rule_docs, about=about, who=who)
    sources = list(dict.fromkeys(s for r in replies for s in r["sources"]))
    intents = list(dict.fromkeys(r["intent"] for r in replies))
    scopes = {r["scope"] for r in replies}
    scope = ("answered" if scopes == {"answered"} else
             "out_of_scope" if scopes == {"out_of_scope"} else "partial")
    return Reply(text=text, intent=intents[0] if intents else "out_of_scope", scope=scope,
                 sources=sources, fired=list(dict.fromkeys(r["rule"] for r in replies)),
                 follow_up=follow_ups[0]["follow_up"] if follow_ups else None,
                 handoff=any(r["handoff"] for r in replies), facts=copy.deepcopy(facts),
                 intents=intents, used=list(dict.fromkeys(u for r in replies for u in r["used"])),
                 choices=list(follow_ups[0]["data"].get("choices", [])) if follow_ups else [])


def plain(fact) -> dict:
    """A Reply fact as a plain dict (experta freezes lists and dicts)."""
    return {key: _thaw(fact[key]) for key in ("template", "intent", "scope", "sources", "handoff",
                                              "follow_up", "data", "rule", "used")}


def _thaw(value):
    if isinstance(value, (list, tuple)) or type(value).__name__ == "frozenlist":
        return [_thaw(v) for v in value]
    if hasattr(value, "items"):
        return {k: _thaw(v) for k, v in value.items()}
    return value


def _ordered(replies: list[dict]) -> list[dict]:
    def rank(reply):
        name = reply["template"]
        if name in FIRST:
            return FIRST.index(name) - 100
        if name in LAST:
            return LAST.index(name) + 100
        return 0
    return sorted(replies, key=rank)   # stable: rules' own order within a rank
