"""Memory: how what a person says changes the conversation state (chatbot/state.py).

A later statement replaces an earlier one (and is confirmed back as a correction), lists of things
taken grow, stopped items leave them, appointments are kept per treatment and drinks by date.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from chatbot.knowledge import inventory
from chatbot.knowledge.inventory import TREATMENTS
from chatbot.state import ConversationState
from chatbot.understand import Understanding

LIST_KEYS = ("medicines", "supplements", "skincare", "prescribed")
FORGET_ALIASES = {"pregnancy": "pregnant", "allergy": "allergic", "allergies": "allergic",
                  "medicine": "medicines", "medication": "medicines", "medications": "medicines",
                  "supplement": "supplements", "date": "appointment_date", "appointment": "appointment_date",
                  "wrinkles": "lines", "alcohol": "alcohol", "hair": "hair_removal"}
_CLAUSE_BREAK = re.compile(r",|;|\band\b|\bthen\b", re.IGNORECASE)


def remember(state: ConversationState, heard: Understanding,
             category_of: Callable[[str], str]) -> set[str]:
    """Merge what was told into the session's facts; a later statement replaces an earlier one."""
    changed = set()
    for key, value in heard.told.items():
        if key.endswith("_stopped"):
            base = key[: -len("_stopped")]
            stopped = state.facts.setdefault("stopped", [])
            for item in value:
                if item not in stopped:
                    stopped.append(item)
                    changed.add("stopped")
            current = state.facts.get(base)
            if isinstance(current, list):
                kept = [item for item in current if item not in value]
                if kept != current:
                    state.facts[base] = kept
                    changed.add(base)
            elif base in ("supplements", "skincare") and state.context.pending == base:
                state.facts[base] = []   # "I used to take vitamin E but not anymore": none now
                changed.add(base)
            if base == "medicines" and state.facts.get("blood_thinners") is not False and not any(
                    category_of(name) == "blood_thinner" for name in state.facts.get(base) or []):
                state.facts["blood_thinners"] = False   # the blood thinner they took is stopped
                changed.add("blood_thinners")
            continue
        if key == "alcohol_date":
            for when in [d for d in heard.drink_dates if d != value] + [value]:   # the last told last
                if state.drink(when, instead=heard.drink_corrected):
                    changed.add(key)
            continue
        if key == "appointment_date":
            continue   # booked by _book
        if key in LIST_KEYS and isinstance(value, list) and value:
            current = state.facts.get(key)
            current = current if isinstance(current, list) else []
            merged = [i for i in current if i != "unspecified"] + [i for i in value if i not in current]
            if value == ["unspecified"] and current:
                merged = current
            if any(i != "unspecified" for i in merged):
                merged = [i for i in merged if i != "unspecified"]   # "meds: advil, tylenol"
            value = merged
        if state.facts.get(key) != value:
            if key in state.facts and key not in LIST_KEYS:
                state.context.corrected.append(key)
            if key == "treatment" and "appointment_date" not in heard.told:
                _move_the_booking(state, state.facts.get(key), value)
            state.facts[key] = value
            changed.add(key)
    if "alcohol_date" in changed and state.facts.get("alcohol") is not True and _inside_the_window(state):
        # "a glass of wine on Saturday" before Monday's Botox: a yes (once the treatment told with
        # it, in any order, is known)
        state.facts["alcohol"] = True
        changed.add("alcohol")
    if heard.lines:
        if heard.other_lines:
            state.lines = {}   # "and what about nasolabial folds?": asked of these lines alone
        lines = state.lines
        for area in heard.lines.get("areas", []):
            lines.setdefault("areas", [])
            if area not in lines["areas"]:
                lines["areas"].append(area)
        hints = lines.setdefault("hints", [])
        hints += [hint for hint in heard.lines.get("hints", []) if hint not in hints]   # once each
        if heard.lines.get("behaviours"):
            if state.context.pending == "lines_at_rest" or heard.lines_corrected:
                lines["behaviours"] = list(heard.lines["behaviours"])   # the deciding answer
            else:
                lines["behaviours"] = list(dict.fromkeys(
                    lines.get("behaviours", []) + heard.lines["behaviours"]))
        state.facts["lines"] = _describe_lines(lines)
    return changed


def _move_the_booking(state: ConversationState, before, after) -> None:
    """"I have filler on the 9th", then "sorry, I mean botox": the one booking moves with the
    treatment corrected (a second treatment booked beside it is left alone)."""
    if before in TREATMENTS and after in TREATMENTS and len(state.appointments) == 1 \
            and state.appointments[0].treatment == before:
        when = state.appointments[0].date
        state.unbook()
        state.book(after, when)


def book(state: ConversationState, text: str, heard: Understanding,
         read: Callable[[str], Understanding]) -> tuple[set[str], bool]:
    """Record the appointments the message names: the changed keys, and whether a second
    treatment was booked beside one already booked ("Botox on Thursday", then "and fillers on
    Friday": both are kept, not one corrected into the other)."""
    told = heard.told
    if "appointment_date" not in told:
        return set(), False
    before = list(state.appointments)
    planned = told.get("treatment") or state.facts.get("treatment") or ""
    second = False
    dated = _dates_per_treatment(text, read) if planned == "both" and len(heard.treatments) > 1 else {}
    if len(dated) == 2:
        for treatment, when in dated.items():
            state.book(treatment, when)
    else:
        second = any(b.treatment in TREATMENTS and b.treatment != planned and b.date != told[
            "appointment_date"] for b in state.appointments) and planned in TREATMENTS
        state.book(planned if planned in TREATMENTS + ("both",) else "", told["appointment_date"])
    if not second and len(dated) != 2 and any(b.date != told["appointment_date"] for b in before) and (
            "appointment_date" not in state.context.corrected):
        state.context.corrected.append("appointment_date")   # "actually make it the 21st": confirmed
    if second:
        told["treatment"] = "both"   # a second booking, not a correction of the first
        if state.facts.get("treatment") in TREATMENTS:
            state.facts["treatment"] = "both"
    return ({"appointment_date"} if state.appointments != before else set()), second


def _inside_the_window(state: ConversationState) -> bool:
    """Whether a drink told falls in the days before a Botox appointment that the article asks
    to go without alcohol (the screening data's number of days)."""
    from datetime import date
    appointment = state.facts.get("appointment_date")
    if not appointment or state.facts.get("treatment") not in ("botox", "both"):
        return False
    days = inventory.screening()["timing"]["alcohol"]["days"]
    return any(0 <= (date.fromisoformat(appointment) - date.fromisoformat(d)).days <= days
               for d in state.drinks)


def _dates_per_treatment(text: str, read: Callable[[str], Understanding]) -> dict[str, str]:
    """Each treatment's date when one message books both on different days."""
    dated = {}
    for part in _CLAUSE_BREAK.split(text):
        heard = read(part)
        treatments = set(heard.treatments)
        if len(treatments) == 1 and "appointment_date" in heard.told:
            dated[treatments.pop()] = heard.told["appointment_date"]
    return dated if len(set(dated.values())) == len(dated) else {}


def forget(state: ConversationState, key: str) -> bool:
    """Drop one fact ("/forget pregnancy"); True when there was something to drop."""
    key = FORGET_ALIASES.get(key, key)
    found = state.facts.pop(key, None) is not None
    for name in LIST_KEYS:   # "/forget retinol": one item of a list
        items = state.facts.get(name)
        if isinstance(items, list) and key.replace("_", " ") in items:
            items.remove(key.replace("_", " "))
            found = True
    if key == "treatment":
        state.context.screening = []
        state.context.screened = []
    if key == "appointment_date":
        found = bool(state.appointments) or found
        state.unbook()
    if key == "alcohol_date":
        state.drinks = []
    if key == "lines":
        found = bool(state.lines)
        state.lines = {}
    return found


def _describe_lines(lines: dict) -> dict:
    return {k: v for k, v in (("areas", lines.get("areas", [])),
                              ("behaviours", lines.get("behaviours", []))) if v}
