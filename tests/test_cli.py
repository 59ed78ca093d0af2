"""The command line: ask, --json, piped conversations, kb, and one clear line for every error."""
import json
import os
import subprocess
import sys

import pytest
from invoke import chatbot

CONTRACT_KEYS = {"text", "intent", "scope", "sources", "fired", "follow_up", "handoff", "facts"}


def test_ask_prints_the_answer_and_its_sources():
    out = chatbot("ask", "How long does Botox take?").stdout
    assert "15 and 30 minutes" in out and "Sources: BTX-DURATION" in out


def test_ask_json_is_one_object_with_the_contract_keys():
    lines = chatbot("--json", "ask", "can I take Advil before fillers").stdout.splitlines()
    assert len(lines) == 1
    reply = json.loads(lines[0])
    assert CONTRACT_KEYS <= set(reply)
    assert reply["intent"] == "fillers_medicines" and reply["sources"] == ["FIL-BLOOD-THINNERS"]
    assert reply["scope"] == "answered" and reply["handoff"] is False and reply["follow_up"] is None


def test_piped_input_is_one_answer_per_line_in_one_session():
    out = chatbot("--json", stdin="Can I drink wine before fillers?\n\nand botox?\n").stdout
    replies = [json.loads(line) for line in out.splitlines()]
    assert [r["intent"] for r in replies] == ["fillers_alcohol", "botox_alcohol"]


def test_piped_commands_work_and_quit_stops_reading():
    out = chatbot(stdin="I'm pregnant\n/facts\n/forget pregnancy\n/facts\n/quit\nhow long?\n").stdout
    assert "pregnant: yes" in out and "forgotten pregnancy" in out
    assert "haven't told me anything" in out and "15 and 30" not in out


def test_kb_json_holds_every_fact_with_id_line_and_text():
    facts = json.loads(chatbot("kb", "--json").stdout)
    assert len(facts) == 35
    assert all({"id", "line", "text"} <= set(f) for f in facts)


def test_kb_prints_a_human_table():
    assert "BTX-ALCOHOL" in chatbot("kb").stdout


@pytest.mark.parametrize("args", [["--bogus"], ["ask"], ["frobnicate"], ["quiz", "--count", "zero"],
                                  ["serve", "--port", "99999"]])
def test_a_bad_command_line_is_one_line_on_stderr_and_exit_2(args):
    result = chatbot(*args, expect_status=2)
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "try --help" in result.stderr


def test_a_bad_chatbot_today_is_one_clear_line():
    result = chatbot("ask", "hi", expect_status=1, environ={"CHATBOT_TODAY": "tomorrow-ish"})
    assert result.stderr.count("\n") == 1 and "CHATBOT_TODAY" in result.stderr


def test_escape_sequences_in_a_message_never_reach_the_terminal():
    out = chatbot("ask", "\x1b[2J\x1b]0;pwned\x07 botox?").stdout
    assert "\x1b" not in out and "\x07" not in out


def test_every_command_has_help_text_and_a_readme_mention():
    from chatbot.cli import build_parser
    root = os.path.join(os.path.dirname(__file__), "..")
    readme = "\n".join(open(os.path.join(root, name), encoding="utf-8").read() for name in
                       ["README.md"] + [os.path.join("docs", page) for page in sorted(os.listdir(
                           os.path.join(root, "docs")))])
    commands = build_parser()._subparsers._group_actions[0].choices
    for name, parser in commands.items():
        assert parser.format_help().strip(), name
        assert f"chatbot {name}" in readme or f"python -m chatbot {name}" in readme, name


def test_python_m_chatbot_runs_as_a_real_process():
    result = subprocess.run([sys.executable, "-m", "chatbot", "--json", "ask", "which comes first?"],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "CHATBOT_TODAY": "2026-11-27"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sources"] == ["CMB-ORDER", "CMB-WHY-ORDER"]


def test_ask_does_not_import_the_terminal_or_the_server():
    code = ("import sys; from chatbot.cli import main; main(['ask', 'hi']); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('prompt_toolkit', 'starlette', 'uvicorn', 'yaml', 'platformdirs')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("args, collecting", [(["ask", "hi"], False), (["kb"], False),
                                              (["chat"], True),
                                              (["eval", os.path.join(os.path.dirname(__file__),
                                                                     "conversations", "brands.yaml")], True)])
def test_as_a_whole_process_only_one_shot_commands_leave_the_garbage_collector_paused(args, collecting):
    code = ("import gc, io, sys\n"
            "from chatbot import cli\n"
            "from chatbot.environment import Environment\n"
            "seen = []\n"
            "real = cli.program\n"
            "cli.program = lambda *a: seen.append(gc.isenabled()) or real(*a)\n"
            f"sys.argv = ['chatbot', *{args!r}]\n"
            "sys.stdin = io.StringIO('')\n"
            "try:\n"
            "    cli.run()\n"
            "except SystemExit as end:\n"
            "    print('collecting' if seen[-1] else 'paused', end.code, gc.get_freeze_count() > 0)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "CHATBOT_TODAY": "2026-11-27"})
    assert result.stdout.strip().splitlines()[-1] == f"{'collecting' if collecting else 'paused'} 0 True", \
        result.stderr


# -- the command line as people type it ---------------------------------------------------------
@pytest.mark.parametrize("args", [["--json", "ask", "can I take Advil before fillers"],
                                  ["ask", "--json", "can I take Advil before fillers"],
                                  ["ask", "can I take Advil before fillers", "--json"]])
def test_json_goes_before_or_after_the_command(args):
    reply = json.loads(chatbot(*args).stdout)
    assert reply["intent"] == "fillers_medicines"


def test_chat_json_after_the_command_answers_piped_lines_as_json():
    out = chatbot("chat", "--json", stdin="how long does botox take?\n").stdout
    assert json.loads(out)["sources"] == ["BTX-DURATION"]


def test_eval_json_after_the_command_gives_the_report_as_one_object():
    path = os.path.join(os.path.dirname(__file__), "conversations", "brands.yaml")
    report = json.loads(chatbot("eval", "--json", path).stdout)
    assert isinstance(report, dict) and report


def test_ask_dash_reads_the_question_from_stdin():
    result = chatbot("--json", "ask", "-", stdin="How long does\nBotox take?\n")
    assert json.loads(result.stdout)["sources"] == ["BTX-DURATION"]


@pytest.mark.parametrize("stdin", ["", "  \n\n"])
def test_ask_dash_with_nothing_on_stdin_is_one_clear_line(stdin):
    result = chatbot("ask", "-", stdin=stdin, expect_status=2)
    assert result.stdout == "" and result.stderr.count("\n") == 1 and "no question on stdin" in result.stderr


def test_ask_help_says_how_to_get_json_and_read_stdin():
    result = chatbot("ask", "--help")
    assert "--json" in result.stdout and "stdin" in result.stdout and result.stderr == ""


def test_chat_takes_no_history_before_or_after_the_command(tmp_path):
    for args in (["--no-history"], ["chat", "--no-history"]):
        chatbot(*args, stdin="hi\n", environ={"CHATBOT_DATA_DIR": str(tmp_path)})
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("args, stdin", [
    (["kb"], ""), (["kb", "--json"], ""), (["ask", "hi"], ""), (["chat"], "hi\n/quit\n"),
    (["eval", os.path.join(os.path.dirname(__file__), "conversations", "brands.yaml")], ""),
    (["records"], ""), (["handout"], ""), (["quiz", "--export", "gift"], ""),
    (["quiz", "--count", "1", "--seed", "1"], "1\n"), (["roleplay", "--count", "1", "--seed", "1"], "hi\n"),
])
def test_every_command_returns_an_exit_status(tmp_path, args, stdin):
    import io

    from chatbot.cli import build_parser, program
    from chatbot.environment import Environment
    from chatbot.status import ExitStatus
    env = Environment(stdin=io.StringIO(stdin), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ={"CHATBOT_TODAY": "2026-11-27", "CHATBOT_DATA_DIR": str(tmp_path)})
    assert isinstance(program(build_parser().parse_args(args), env), ExitStatus)


@pytest.mark.parametrize("args", [["kb"], ["ask", "which comes first?"], ["chat"]])
def test_output_into_a_closed_pipe_ends_quietly(args):
    """As with `python -m chatbot kb | head -1`: the reader has gone before the first write."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        result = subprocess.run([sys.executable, "-m", "chatbot", *args], stdout=writer,
                                input="how long does botox take?\n", stderr=subprocess.PIPE,
                                text=True, timeout=60, env={**os.environ, "CHATBOT_TODAY": "2026-11-27"})
    finally:
        os.close(writer)
    assert result.stderr == ""
    assert result.returncode == 141   # 128 + SIGPIPE, as `yes | head` reports


def test_every_command_of_the_parser_has_a_function_and_no_function_lacks_a_command():
    from chatbot.cli import COMMANDS, build_parser
    assert set(build_parser()._subparsers._group_actions[0].choices) == set(COMMANDS)
