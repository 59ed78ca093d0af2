"""Replies people can read: the answer first, its inventory IDs in one "Sources:" line at the end
on a screen; the JSON `text` (the web page, API clients) keeps each ID after its sentence."""
import json
import re

import pytest
from invoke import chatbot

from chatbot.render import Renderer

INLINE_ID = re.compile(r"\[[A-Z]{3}-[A-Z-]+(?:, [A-Z]{3}-[A-Z-]+)*\]")
# A filler check to its dated checklist (as tests/conversations/screening.yaml plays it).
TO_A_CHECKLIST = "I have filler on Friday\nno\nnope\nno i'm not\nno\nI take ginkgo every morning\nno\nno\n"


def test_on_a_screen_the_answer_comes_first_and_its_ids_in_one_line_at_the_end():
    lines = chatbot("ask", "can I drink wine before botox?").stdout.strip().splitlines()
    assert not INLINE_ID.search("\n".join(lines[:-1]))
    assert lines[-1] == "Sources: BTX-ALCOHOL"
    assert "bruising" in "\n".join(lines[:-1])


def test_the_json_text_keeps_each_id_after_its_sentence():
    reply = json.loads(chatbot("--json", "ask", "can I drink wine before botox?").stdout)
    assert "[BTX-ALCOHOL]" in reply["text"] and reply["sources"] == ["BTX-ALCOHOL"]


def test_a_checklist_on_a_screen_has_no_ids_in_its_steps():
    out = chatbot(stdin=TO_A_CHECKLIST).stdout
    checklist = out[out.rindex("Your checklist"):].strip().splitlines()
    steps = [line for line in checklist if line.startswith("- ")]
    assert len(steps) == len(checklist) - 2 and not any(INLINE_ID.search(step) for step in steps)
    assert checklist[-1] == "Sources: FIL-SUPPLEMENTS, FIL-BLOOD-THINNERS, FIL-ACTIVES, FIL-HAIR-REMOVAL"


def test_a_checklist_in_json_keeps_the_ids_of_each_step():
    replies = [json.loads(line) for line in chatbot("--json", stdin=TO_A_CHECKLIST).stdout.splitlines()]
    steps = [line for line in replies[-1]["text"].splitlines() if line.startswith("- ")]
    assert replies[-1]["intent"] == "fillers_verdict" and steps
    assert all(INLINE_ID.search(step) for step in steps)


@pytest.mark.parametrize("inline_ids, shown", [(True, "[BTX-ALCOHOL]"), (False, "")])
def test_the_renderer_tags_cited_facts_only_when_asked(inline_ids, shown):
    renderer = Renderer(inline_ids=inline_ids)
    text = renderer.part({"template": "why_asked", "data": {"treatment": "botox"},
                          "sources": ["BTX-ALCOHOL"]})
    assert text.splitlines()[0].endswith("bruising more likely." + (f" {shown}" if shown else ""))


def test_ids_inline_is_the_default_so_the_api_text_does_not_change():
    assert Renderer().inline_ids is True


@pytest.mark.parametrize("messages, said, never", [
    (["I take warfarin"], "Warfarin is a blood thinner that a doctor prescribes.", "is here a"),
    (["thanks", "why?"], "A thank-you with no question gets a short reply.", "Thanks with no question get"),
])
def test_replies_read_as_plain_english(session, messages, said, never):
    text = [session.ask(message) for message in messages][-1].text
    assert said in text and never not in text


def test_no_python_list_or_dict_reaches_the_screen_in_any_conversation(bot):
    """Every conversation of tests/conversations, then /facts and the toolbar on what it left."""
    from pathlib import Path

    from chatbot import conversations, repl
    from chatbot.commands import handle
    python_repr = re.compile(r"\['|'\]|\{'|\[\]|\{\}")
    shown = []
    for conversation in conversations.load([Path(__file__).parent / "conversations"]):
        session = bot.session()
        shown += [session.ask(turn.user).text for turn in conversation.turns]
        shown += [handle(session, "/facts").reply.text, repl.known_line(session.facts)]
    assert len(shown) > 1000
    assert not [text for text in shown if python_repr.search(text)]


def test_the_same_paragraph_from_two_rules_is_said_once(bot):
    from chatbot.understand import Understanding
    piece = {"template": "answer", "intent": "botox_duration", "scope": "answered",
             "sources": ["BTX-DURATION"], "handoff": False, "follow_up": "", "rule": "r", "used": [],
             "data": {"topic": "duration", "treatment": "botox", "item": "", "gap": ""}}
    text = bot.renderer.turn([piece, dict(piece, rule="s")], Understanding(text="x"), {}, {})
    assert text.count("[BTX-DURATION]") == 1
