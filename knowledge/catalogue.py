"""Every rule of the knowledge base in plain words, for a clinician to review the reasoning.

For each rule: when it fires (its docstring and the facts it matches, each named by its kind's
own docstring), what it concludes (the answer it gives or the fact it derives) and which inventory
IDs it rests on. Read from the rules themselves, so it cannot drift from them.
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

from chatbot.knowledge import inventory
from chatbot.knowledge._experta import NOT, TEST, Fact, Rule
from chatbot.knowledge.rules import Expert

# isort: split
from experta import AND, OR

_DECLARES = re.compile(r"self\.declare\((\w+)\(")
_REPLIES = re.compile(r'self\._reply\(\s*"(\w+)"')
_HELPERS = re.compile(r"self\.(_\w+)\(")
_IDS = re.compile(r'"([A-Z]{3}-[A-Z-]+)"')
_PRIORITY = {100: "urgent: before anything else",
             99: "decides what the message calls for (a check, advice, asking again), before any advice",
             98: "starts or stops a check, before any advice", 10: "a contraindication: before other advice",
             -1: "decides after every wrinkle kind is known",
             -97: "only when nothing else answered", -98: "only when nothing else answered",
             -99: "only when nothing else answered", -100: "the fallback: only when nothing else spoke",
             -101: "after every answer is given: one question at a time"}


@dataclass
class RuleEntry:
    """One rule, described."""

    name: str
    when: str                 # the rule's docstring
    matches: list[str]        # the facts it needs (or needs absent), in words
    concludes: list[str]      # the answers it gives and the facts it derives
    rests_on: list[str]       # inventory IDs, or where they come from
    priority: str

    def to_dict(self) -> dict:
        return dict(vars(self))


def entries() -> list[RuleEntry]:
    """Every rule, in the order they appear in knowledge/rules.py."""
    found = []
    for name, rule in vars(Expert).items():
        if not isinstance(rule, Rule):
            continue
        function = rule._wrapped
        code = _code_of(function)
        salience = rule.salience or 0
        found.append(RuleEntry(
            name=name,
            when=" ".join((function.__doc__ or "").split()),
            matches=[_pattern(p) for p in rule],
            concludes=_conclusions(code),
            rests_on=_rests_on(name, rule, code),
            priority=_PRIORITY.get(salience, "normal" if salience == 0 else f"salience {salience}")))
    return found


def text() -> str:
    """The catalogue as plain text."""
    lines = []
    for entry in entries():
        lines += [entry.name, f"  When: {entry.when}", "  Needs: " + "; ".join(entry.matches),
                  "  Concludes: " + "; ".join(entry.concludes),
                  "  Rests on: " + (", ".join(entry.rests_on) or "no article fact (conversation only)")]
        if entry.priority != "normal":
            lines.append(f"  Priority: {entry.priority}")
        lines.append("")
    lines.append(f"{len(entries())} rules.")
    return "\n".join(lines)


def _code_of(function) -> str:
    """The rule's source and that of the helpers it calls (they give its answers)."""
    code = inspect.getsource(function)
    for helper in dict.fromkeys(_HELPERS.findall(code)):
        member = getattr(Expert, helper, None)
        if callable(member) and helper not in ("_all", "_reply"):
            code += inspect.getsource(member)
    return code


def _pattern(pattern) -> str:
    if isinstance(pattern, NOT):
        return "no " + " and ".join(_pattern(p) for p in pattern)
    if isinstance(pattern, Fact):
        kind = type(pattern)
        said = _first_line(kind.__doc__)
        fields = [f"{key} = {_value(value)}" for key, value in pattern.items()
                  if not isinstance(key, int) and not key.startswith("__") and _is_literal(value)]
        return f"{kind.__name__} ({said})" + (f" with {', '.join(fields)}" if fields else "")
    if isinstance(pattern, TEST):
        return "a test on the values matched: " + _lambda_text(pattern[0])
    if isinstance(pattern, (AND, OR)):
        joint = " or " if isinstance(pattern, OR) else " and "
        return joint.join(_pattern(p) for p in pattern)
    return type(pattern).__name__


def _is_literal(value) -> bool:
    return isinstance(value, (str, bool, int)) or type(value).__name__ == "L"


def _value(value) -> str:
    if type(value).__name__ == "L":
        return repr(value.value)
    return repr(value)


def _lambda_text(function) -> str:
    try:
        source = inspect.getsource(function).strip()
    except (OSError, TypeError):
        return "(a test)"
    found = re.search(r"lambda[^:]*:\s*(.*)$", source)
    test = found.group(1) if found else source
    test = test.rstrip(",")
    while test.endswith(")") and test.count(")") > test.count("("):
        test = test[:-1]   # the parentheses closing TEST( and Rule( around the lambda
    return test


def _first_line(doc: str | None) -> str:
    """A docstring's first paragraph, on one line."""
    return " ".join((doc or "").strip().split("\n\n")[0].split()).rstrip(".")


def _conclusions(code: str) -> list[str]:
    said = [f'answers with "{name}"' for name in dict.fromkeys(_REPLIES.findall(code))]
    derived = [f"derives {kind} ({_first_line(_fact_class(kind).__doc__)})"
               for kind in dict.fromkeys(_DECLARES.findall(code)) if _fact_class(kind)]
    return said + derived or ["nothing (a starting fact)"]


def _fact_class(name: str):
    from chatbot.knowledge import facts
    found = getattr(facts, name, None)
    return found if isinstance(found, type) and issubclass(found, Fact) else None


def _rests_on(name: str, rule, code: str) -> list[str]:
    ids = list(inventory.reasoning()["sources"].get(name, []))
    ids += [i for i in _IDS.findall(code) if i not in ids]
    kinds = {type(p).__name__ for p in _flat(rule) if not isinstance(p, TEST)}
    if "Coverage" in kinds or "inventory.topics()" in code:
        ids.append("the IDs topics.toml lists for the topic and treatment")
    if "Check" in kinds:
        ids.append("the IDs of the check's topic (screening.toml, topics.toml)")
    if "volume" in code.lower() and "_VOLUME" in code:
        ids.append(inventory.reasoning()["volume"]["source"] + " (the volume areas)")
    return ids


def _flat(patterns):
    for pattern in patterns:
        if isinstance(pattern, Fact) or isinstance(pattern, TEST):
            yield pattern
        elif isinstance(pattern, (NOT, AND, OR)):
            yield from _flat(pattern)
