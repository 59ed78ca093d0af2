"""The terminal chat, driven through prompt_toolkit's pipe input (as its docs recommend)."""
import io

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from chatbot import repl
from chatbot.environment import Environment


def chat(bot, keys: str, monkeypatch=None) -> str:
    """Type `keys` into the chat and return what it printed."""
    env = Environment(stdout=io.StringIO(), environ={"NO_COLOR": "1"})
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text(keys)
        session = bot.session()
        prompt = repl.make_prompt(session, env, history=InMemoryHistory(), input=pipe,
                                  output=DummyOutput())
        status = repl.run(bot, env, prompt=prompt)
    assert status == 0
    return env.stdout.getvalue()


def test_a_question_is_answered_with_sources_and_ctrl_d_leaves(bot):
    out = chat(bot, "how long does botox take?\n\x04")
    assert "15 and 30 minutes" in out and "Sources: BTX-DURATION" in out
    assert out.rstrip().endswith("Goodbye.")


def test_ctrl_c_cancels_the_line_not_the_chat(bot):
    out = chat(bot, "what is bot\x03which comes first?\n/quit\n")
    assert "Botox comes first" in out and "neurotoxin" not in out


def test_commands_help_facts_reset_and_quit(bot):
    out = chat(bot, "/help\nI'm not pregnant\n/facts\n/reset\n/facts\n/quit\n")
    assert "/forget" in out and "pregnant: no" in out
    assert "Starting over" in out and "haven't told me anything" in out


def test_one_failing_turn_apologises_and_the_chat_goes_on(bot, monkeypatch):
    from chatbot import session as session_module
    original = session_module.Session.ask

    def flaky(self, text):
        if "boom" in text:
            raise RuntimeError("a rule fell over")
        return original(self, text)
    monkeypatch.setattr(session_module.Session, "ask", flaky)
    out = chat(bot, "boom\nhow much is botox?\n\x04")
    assert "Sorry, something went wrong" in out and "$250 to $500" in out


@pytest.mark.parametrize("name", ["/why", "/forget pregnancy", "/nonsense"])
def test_every_command_gets_an_answer(bot, name):
    out = chat(bot, f"{name}\n\x04")
    assert out.count("\n") > 2
