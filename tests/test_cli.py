"""The command line: ask, --json, piped conversations, kb, and one clear line for every error."""
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from chatbot.cli import main
from chatbot.environment import Environment

CONTRACT_KEYS = {"text", "intent", "scope", "sources", "fired", "follow_up", "handoff", "facts"}


@dataclass
class Result:
    stdout: str
    stderr: str
    status: int


def chatbot(*args, stdin="", expect_status=0, environ=None):
    """Run the CLI in-process; fail loudly on an unexpected exit status."""
    env = Environment(stdin=io.StringIO(stdin), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ={"CHATBOT_TODAY": "2026-11-27", **(environ or {})})
    status = main(list(args), env)
    result = Result(env.stdout.getvalue(), env.stderr.getvalue(), status)
    assert status == expect_status, f"exit {status}, stderr: {result.stderr!r}"
    return result


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
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md"), encoding="utf-8").read()
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
