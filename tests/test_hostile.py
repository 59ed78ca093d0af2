"""Hostile input: whatever a message holds, a non-empty reply, no exception, nothing executed.

Fixed cases (empty, huge, control characters, ANSI escapes, bidi overrides, Jinja, HTML, long
words, thousands of negations) and hypothesis properties (random Unicode; sentences built from
the bot's own words mixed with hostile fragments, played as conversations). Every message runs
under a hang guard: an alarm that only stops a runaway case (a regular expression backtracking
without end, a loop that never ends) so the suite fails instead of hanging. It asserts nothing
about speed; the benchmarks measure that.
"""
from __future__ import annotations

import contextlib
import io
import json
import signal
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatbot.cli import main
from chatbot.environment import Environment
from chatbot.terminal import safe
from chatbot.understand import MAX_LENGTH

HANG_GUARD_SECONDS = 20   # generous: a turn takes milliseconds; only a runaway case gets near this
SCOPES = {"answered", "partial", "out_of_scope"}
# C0 and C1 control characters, DEL and the bidi/format controls a terminal may act on.
TERMINAL_CONTROLS = {chr(c) for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]} - {"\n", "\t"} | {
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"}
HYPOTHESIS = settings(max_examples=100, deadline=None,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@contextlib.contextmanager
def hang_guard(seconds: float = HANG_GUARD_SECONDS):
    """Raise TimeoutError in a case still running after `seconds` (a guard, not a timing test)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield   # no alarms here (Windows, a worker thread): run unguarded
        return

    def stop(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: a runaway case")
    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def ask(session, message: str):
    """Ask under the hang guard and check what every reply must be; return the reply."""
    with hang_guard():
        reply = session.ask(message)
    assert reply.text.strip(), f"empty reply to {message!r}"
    assert reply.scope in SCOPES
    assert isinstance(reply.intent, str) and reply.intent
    assert all(isinstance(source, str) for source in reply.sources)
    json.dumps(reply.to_dict())   # the --json contract: always serialisable
    if "{{" in message and "49" not in message:
        assert "49" not in reply.text, "a template in the message was evaluated"
    # Replies are made from templates and normalised words, never from the raw message, so not
    # even the text (the API and --json show it unfiltered) holds a control character.
    assert not set(reply.text) & TERMINAL_CONTROLS, f"control character in the reply to {message!r}"
    return reply


def run_cli(*argv: str, stdin: str = "") -> tuple[str, str, int]:
    """The command line in-process: (stdout, stderr, exit status)."""
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdin=io.StringIO(stdin), stdout=out, stderr=err,
                      environ={"CHATBOT_TODAY": "2026-11-27"})
    with hang_guard():
        status = main(list(argv), env)
    return out.getvalue(), err.getvalue(), status


# -- fixed cases --------------------------------------------------------------------------------
HOSTILE = [
    ("empty", ""),
    ("blank", " \t  \r\n "),
    ("only newlines", "\n\n\n"),
    ("zero-width spaces", "\u200b\u200b\u200b"),
    ("a NUL byte", "\x00"),
    ("NUL bytes between words", "can\x00i\x00drink\x00before\x00botox"),
    ("lone surrogate", "\ud800 botox?"),
    ("emoji only", "\U0001F489" * 400),
    ("jinja expression", "{{ 7*7 }}"),
    ("jinja loop", "{% for x in range(3) %}{{ x }}{% endfor %}"),
    ("jinja in a question", "Can I drink {{ 7*7 }} glasses before Botox?"),
    ("jinja object walk", "{{ ''.__class__.__mro__[1].__subclasses__() }}"),
    ("jinja comment and raw", "{# hi #}{% raw %}{{ 7*7 }}{% endraw %} fillers?"),
    ("script tag", "<script>alert('botox')</script>"),
    ("html around a question", "<b onmouseover=alert(1)>Can I drink before Botox?</b>"),
    ("ANSI colour", "\x1b[31mcan i drink before botox\x1b[0m"),
    ("ANSI clear screen", "\x1b[2J\x1b[H are fillers safe?"),
    ("OSC window title", "\x1b]0;pwned\x07 botox?"),
    ("C1 control sequence", "\x9b31m fillers \x9b0m"),
    ("bell and backspaces", "botox\x07\x08\x08\x08\x08\x08fillers?"),
    ("right-to-left override", "\u202exotob\u202c can i drink?"),
    ("bidi isolates", "\u2067Can I drink before Botox?\u2069"),
    ("combining marks", "bo\u0301\u0302\u0303tox" * 100),
    ("format characters in a word", "Can I drink before Bot\u200dox?"),
    ("very long word", "a" * (MAX_LENGTH - 1)),
    ("very long known word", "botox" * (MAX_LENGTH // 5)),
    ("long misspelled words", "ibuprofennnnnnnnnnnnnnnnnn " * 70),
    ("thousands of negations", "not " * ((MAX_LENGTH - 9) // 4) + "pregnant"),
    ("many negations in a statement", "I'm " + "not " * 480 + "pregnant"),
    ("many don'ts", "I don't " * (MAX_LENGTH // 8)),
    ("double negation", "I'm not not pregnant and I don't not take advil"),
    ("only question marks", "?" * MAX_LENGTH),
    ("only commas", "," * MAX_LENGTH),
    ("only stars", "* " * (MAX_LENGTH // 2)),
    ("many joins", "and can " * (MAX_LENGTH // 8)),
    ("many dates", "next friday 2026-12-04 12/4 " * 70),
    ("a date far away", "my appointment is in 999 weeks"),
    ("many sentences", "I'm not pregnant. I take advil. No fish oil! Can I drink before botox? " * 25),
    ("many whys", "why? " * 399),
    ("exactly the limit", "b" * MAX_LENGTH),
]


@pytest.mark.parametrize("message", [m for _, m in HOSTILE], ids=[name for name, _ in HOSTILE])
def test_a_hostile_message_gets_a_sound_reply(bot, message):
    ask(bot.session(), message)


@pytest.mark.parametrize("message", [
    "{{ 7*7 }}", "Can I drink {{ 7*7 }} glasses before Botox?", "{% if true %}{{ 7*7 }}{% endif %}",
    "{{ config }} {{ self }} {{ cycler.__init__.__globals__ }}",
])
def test_template_syntax_is_never_evaluated(bot, message):
    reply = ask(bot.session(), message)
    assert "49" not in reply.text
    assert "__globals__" not in reply.text and "<Config" not in reply.text


@pytest.mark.parametrize("message", [
    "a" * (MAX_LENGTH + 1),
    "botox " * 20_000,                            # 120 KB
    "not " * 25_000 + "pregnant",                  # 100 KB of negations
    "\x1b[31m" * 20_000,                           # 100 KB of escape sequences
    "{{ 7*7 }}" * 12_000,
    "\u202e" + "x" * 100_000,
])
def test_a_message_over_the_limit_is_asked_to_be_shortened(bot, message):
    reply = ask(bot.session(), message)
    assert reply.intent == "too_long"
    assert "shorten" in reply.text.lower()


@pytest.mark.parametrize("message", [
    "not " * 5_000 + "pregnant",                                     # thousands of negations
    "I'm " + "not " * 5_000 + "pregnant",
    "I don't take advil " * 2_000,
    "can i drink before botox? " * 2_000,                            # thousands of questions
    "botox, " * 5_000,
    "next friday 2026-12-04 12/4 " * 2_000,                          # every date pattern at once
    "I'm not pregnant, I take advil, no fish oil, and can I drink wine before botox? " * 500,
], ids=["negations", "negated statement", "negated items", "questions", "commas", "dates", "mixed"])
def test_with_the_length_limit_lifted_huge_messages_are_still_answered(bot, monkeypatch, message):
    # The limit is the first defence; this checks the one behind it: reading stays about linear
    # in the length (no backtracking regular expression, no quadratic scan), so the hang guard,
    # hundreds of times a normal turn, is never reached.
    monkeypatch.setattr("chatbot.understand.MAX_LENGTH", 10 ** 6)
    assert ask(bot.session(), message).intent != "too_long"


def test_a_message_at_the_limit_is_still_read(bot):
    reply = ask(bot.session(), "Can I drink before Botox?".ljust(MAX_LENGTH))
    assert reply.intent == "botox_alcohol"


def test_a_session_keeps_working_after_a_run_of_hostile_messages(bot):
    session = bot.session()
    for _, message in HOSTILE:
        ask(session, message)
    reply = ask(session, "Can I drink wine before Botox?")   # (it has heard of advil by now)
    assert reply.intent == "botox_alcohol" and "BTX-ALCOHOL" in reply.sources


# -- the terminal -------------------------------------------------------------------------------
ESCAPES = ["\x1b[2J\x1b[Hcan i drink before botox?", "\x1b]0;pwned\x07 fillers?", "\x9b31m botox",
           "\u202eCan I take advil before fillers?\u202c", "\x07\x08\x7f hello"]


@pytest.mark.parametrize("message", ESCAPES)
def test_ask_prints_no_control_character_to_the_terminal(message):
    out, err, status = run_cli("ask", message)
    assert status == 0 and err == ""
    assert out.strip()
    assert not set(out) & TERMINAL_CONTROLS


@pytest.mark.parametrize("message", ESCAPES)
def test_piped_chat_prints_no_control_character_for_a_message(message):
    out, _, status = run_cli(stdin=message + "\n")
    assert status == 0 and out.strip()
    assert not set(out) & TERMINAL_CONTROLS


@pytest.mark.parametrize("line", ["/\x1b[2Jhello", "/forget \x1b]0;pwned\x07"])
def test_piped_chat_prints_no_control_character_for_a_slash_command(line):
    out, _, status = run_cli(stdin=line + "\n")
    assert status == 0 and out.strip()
    assert not set(out) & TERMINAL_CONTROLS


def test_a_usage_error_prints_no_control_character():
    _, err, status = run_cli("ask", "hello", "--\x1b[2J")
    assert status == 2
    assert not set(err) & TERMINAL_CONTROLS


# -- understanding survives markup ---------------------------------------------------------------
PLAIN = "can i drink before botox"


@pytest.mark.parametrize("dressed", [
    PLAIN.upper(), f"\u202e{PLAIN}\u202c", f"\u2067{PLAIN}\u2069", PLAIN.replace(" ", "\u00a0"),
    PLAIN.replace(" ", "\t"), PLAIN + "\r\n", f"<b>{PLAIN}</b>", f"{{{{ 7*7 }}}} {PLAIN}",
    PLAIN.replace(" ", "\x00"), f"\x1b]0;title\x07{PLAIN}", f"{PLAIN}\x07",
    f"\x1b[31m{PLAIN}\x1b[0m", PLAIN.replace("botox", "\x1b[1mbotox\x1b[0m"),
    PLAIN.replace("botox", "bot\u200dox"),
])
def test_markup_and_control_characters_do_not_change_what_is_understood(bot, dressed):
    plain = ask(bot.session(), PLAIN)
    reply = ask(bot.session(), dressed)
    assert (reply.intent, reply.fired, reply.sources) == (plain.intent, plain.fired, plain.sources)


# -- properties ---------------------------------------------------------------------------------
@HYPOTHESIS
@given(message=st.text(max_size=300))
def test_any_unicode_text_gets_a_sound_reply(bot, message):
    ask(bot.session(), message)


@HYPOTHESIS
@given(message=st.text(st.characters(codec="utf-8"), min_size=MAX_LENGTH + 1, max_size=MAX_LENGTH + 50))
def test_any_text_over_the_limit_is_asked_to_be_shortened(bot, message):
    assert ask(bot.session(), message).intent == "too_long"


WORDS = ["botox", "fillers", "filler", "juvederm", "restylane", "dysport", "pregnant", "breastfeeding",
         "allergic", "not", "no", "don't", "never", "not sure", "yes", "I'm", "my", "I take", "advil",
         "ibuprofen", "aspirin", "fish oil", "vitamin e", "retinol", "wax", "wine", "alcohol", "drink",
         "can I", "how long", "does it hurt", "what is", "why", "before", "after", "and", "but",
         "also", "next friday", "tomorrow", "2026-12-04", "12/4", "in 3 days", "frown lines", "lips",
         "at rest", "when I smile", "thanks", "hi", "bye", "help", "what do you know about me",
         "where should I go", "trouble breathing", "?", ".", ",", "!", ";", "\n",
         "{{ 7*7 }}", "{% for x in y %}", "<script>", "</b>", "\x1b[31m", "\x1b]0;t\x07", "\u202e",
         "\u200d", "\x00", "e\u0301", "'", '"', "*", "-", "/"]
sentences = st.lists(st.sampled_from(WORDS), max_size=40).map(" ".join)


@HYPOTHESIS
@given(conversation=st.lists(sentences, min_size=1, max_size=5))
def test_a_conversation_of_the_bots_own_words_and_hostile_fragments_gets_sound_replies(bot, conversation):
    session = bot.session()
    for message in conversation:
        ask(session, message)
    json.dumps(session.state)   # the state stays plain data (it is stored between turns)


@HYPOTHESIS
@given(message=st.text(max_size=200))
def test_safe_leaves_no_control_character_and_keeps_printable_text(message):
    shown = safe(message)
    assert not set(shown) & TERMINAL_CONTROLS
    assert len(shown) == len(message)
    if all(ch.isprintable() or ch in "\n\t" for ch in message):
        assert shown == message
