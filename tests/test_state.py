"""The conversation state: a typed, versioned dataclass whose JSON outlives the release that wrote it."""
import json
from pathlib import Path

import pytest

from chatbot.state import VERSION, Booking, ConversationState, upgrade

# A state saved by the release before ConversationState (no "version": version 1), captured from
# that code after "I have fillers on friday", "no", a drink and a description of lines.
V1 = json.loads((Path(__file__).parent / "data" / "state_v1.json").read_text(encoding="utf-8"))


def test_a_state_saved_before_versions_loads_and_is_upgraded():
    state = ConversationState.from_json(V1)
    assert state.facts["pregnant"] is False and state.facts["appointment_date"] == "2026-12-04"
    assert state.appointments == [Booking("fillers", "2026-12-04")]
    assert state.drinks == ["2026-12-01"] and state.about == "self"
    assert state.context.screening == ["fillers"] and state.context.pending == "breastfeeding"
    assert state.lines["hints"] == ["moves"]


def test_a_version_one_session_carries_on_where_it_stopped(bot_for_day):
    from datetime import date
    session = bot_for_day(date(2026, 12, 2)).session(V1)
    reply = session.ask("no")
    assert reply.follow_up == "allergic" and reply.facts["breastfeeding"] is False
    assert session.state["version"] == VERSION


def test_the_json_round_trips_with_its_version_and_facts_at_the_top():
    state = ConversationState.from_json(V1)
    state.book("botox", "2026-12-03")
    saved = json.loads(json.dumps(state.to_json()))
    assert saved["version"] == VERSION and isinstance(saved["facts"], dict)   # the server reads facts
    assert ConversationState.from_json(saved) == state


def test_a_state_from_a_newer_release_is_refused_not_misread():
    with pytest.raises(ValueError, match="newer"):
        upgrade({"version": VERSION + 1, "facts": {}})


def test_two_treatments_on_different_days_are_kept_side_by_side():
    state = ConversationState()
    state.book("botox", "2026-12-03")
    state.book("fillers", "2026-12-04")
    assert state.appointment_for("botox").date == "2026-12-03"
    assert state.appointment_for("fillers").date == "2026-12-04"
    assert state.facts["appointment_date"] == "2026-12-03"
    assert state.facts["appointments"] == {"botox": "2026-12-03", "fillers": "2026-12-04"}
    state.book("fillers", "2026-12-05")   # moving one keeps the other
    assert [(b.treatment, b.date) for b in state.appointments] == [("botox", "2026-12-03"),
                                                                   ("fillers", "2026-12-05")]


def test_drinks_are_kept_with_their_dates_once_each():
    state = ConversationState()
    assert state.drink("2026-12-01") and state.drink("2026-11-28") and not state.drink("2026-12-01")
    assert state.drinks == ["2026-12-01", "2026-11-28"]


def test_telling_the_same_lines_again_does_not_grow_the_state(session):
    session.ask("my forehead lines show when I frown")
    once = session.state["lines"]
    for _ in range(3):
        session.ask("my forehead lines show when I frown")
    assert session.state["lines"] == once


def test_a_check_for_a_client_is_remembered_as_about_the_client(session):
    session.ask("can you check my client for fillers?")
    assert session.state["about"] == "client"


def test_one_vocabulary_of_treatments():
    from chatbot import memory, session
    from chatbot import state as state_module
    from chatbot.knowledge import facts, inventory
    assert inventory.other("botox") == "fillers" and inventory.other("fillers") == "botox"
    assert state_module.TREATMENTS is memory.TREATMENTS is session.TREATMENTS is inventory.TREATMENTS
    assert not hasattr(facts, "TREATMENTS")
