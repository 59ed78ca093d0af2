"""The terminal chat, driven through prompt_toolkit's pipe input (as its docs recommend)."""
import io
import os
import stat

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


# -- the toolbar: words, never Python lists ------------------------------------------------------
def test_the_toolbar_shows_what_the_chat_knows_in_words(bot):
    session = bot.session()
    session.ask("lines on my forehead when I frown")
    session.ask("I take Advil")
    prompt = repl.make_prompt(session, Environment(environ={"NO_COLOR": "1"}), history=InMemoryHistory())
    shown = prompt.bottom_toolbar()
    assert "lines: forehead, moves" in shown and "medicines: ibuprofen" in shown
    assert not set("[]{}'") & set(shown)


@pytest.mark.parametrize("facts, shown", [
    ({"pregnant": False, "allergic": "unknown"}, "Known: pregnant: no | allergic: not sure"),
    ({"lines": {"areas": ["forehead", "lips"], "behaviours": ["moves"]}},
     "Known: lines: forehead, lips, moves"),
    ({"appointments": [{"treatment": "botox", "date": "2026-12-03"}]},
     "Known: appointments: botox, 2026-12-03"),
    ({"medicines": []}, "Known: medicines: none"),
])
def test_known_line_words_nested_facts_without_brackets_or_quotes(facts, shown):
    assert repl.known_line(facts) == shown


# -- the history file: private, optional, and cleared only when the person says so ---------------
def chat_with_history(bot, keys: str, path) -> str:
    env = Environment(stdout=io.StringIO(), environ={"NO_COLOR": "1"})
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text(keys)
        prompt = repl.make_prompt(bot.session(), env, history=repl.PrivateFileHistory(str(path)),
                                  input=pipe, output=DummyOutput())
        assert repl.run(bot, env, prompt=prompt) == 0
    return env.stdout.getvalue()


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_history_file_is_created_readable_by_its_owner_only(tmp_path):
    env = Environment(environ={"CHATBOT_DATA_DIR": str(tmp_path / "data")})
    history = repl.open_history(env)
    assert isinstance(history, repl.PrivateFileHistory) and mode(history.filename) == 0o600


def test_an_existing_history_file_readable_by_others_is_made_private(tmp_path):
    path = tmp_path / "history"
    path.write_text("\n+I am pregnant\n", encoding="utf-8")
    os.chmod(path, 0o644)
    history = repl.PrivateFileHistory(str(path))
    assert mode(path) == 0o600 and list(history.load_history_strings()) == ["I am pregnant"]


def test_a_history_file_deleted_during_the_chat_comes_back_private(tmp_path):
    path = tmp_path / "history"
    history = repl.PrivateFileHistory(str(path))
    path.unlink()
    history.store_string("I take warfarin")
    assert mode(path) == 0o600


def test_no_history_keeps_nothing_on_disk(tmp_path):
    env = Environment(environ={"CHATBOT_DATA_DIR": str(tmp_path)})
    assert isinstance(repl.open_history(env, keep=False), InMemoryHistory)
    assert not list(tmp_path.iterdir())


def test_an_unusable_history_folder_is_one_line_and_the_chat_goes_on(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    env = Environment(stderr=io.StringIO(), environ={"CHATBOT_DATA_DIR": str(blocker)})
    assert isinstance(repl.open_history(env), InMemoryHistory)
    assert env.stderr.getvalue().count("\n") == 1 and "no chat history kept" in env.stderr.getvalue()


def test_reset_asks_before_clearing_the_history_and_yes_clears_it(bot, tmp_path):
    path = tmp_path / "history"
    out = chat_with_history(bot, "I am pregnant\n/reset\ny\n\x04", path)
    assert "Delete it too?" in out and "Deleted" in out
    assert "pregnant" not in path.read_text(encoding="utf-8") and mode(path) == 0o600


@pytest.mark.parametrize("answer", ["\n", "n\n", "no thanks\n"])
def test_reset_keeps_the_history_unless_the_answer_is_yes(bot, tmp_path, answer):
    path = tmp_path / "history"
    out = chat_with_history(bot, f"I am pregnant\n/reset\n{answer}\x04", path)
    assert "Kept the history" in out and "Starting over" in out
    assert "I am pregnant" in path.read_text(encoding="utf-8")


def test_reset_without_a_history_file_asks_nothing(bot):
    out = chat(bot, "/reset\n\x04")
    assert "Starting over" in out and "Delete it too?" not in out
