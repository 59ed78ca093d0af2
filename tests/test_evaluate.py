"""`python -m chatbot eval`: accuracy per intent, failures beside what was expected, clean errors."""
import io
import json
from pathlib import Path

import pytest

from chatbot import conversations
from chatbot.cli import main
from chatbot.environment import Environment

PROJECT = Path(__file__).parent.parent
PASSING = """
- name: alcohol before Botox
  today: 2026-11-27
  turns:
    - user: Can I drink wine before Botox?
      intent: botox_alcohol
      sources: [BTX-ALCOHOL]
"""
FAILING = """
- name: expects the wrong intent
  today: 2026-11-27
  turns:
    - user: Can I drink wine before my fillers?
      intent: botox_alcohol
      says: [a phrase the reply never has]
    - user: thanks
"""


def chatbot(*argv, cwd=None, monkeypatch=None, expect_status=None):
    """Run the CLI in-process; return (stdout, stderr, status). Fails loudly on a surprise status."""
    if cwd is not None:
        monkeypatch.chdir(cwd)
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdin=io.StringIO(""), stdout=out, stderr=err,
                      environ={"CHATBOT_TODAY": "2026-11-27"})
    status = main(list(argv), env)
    if expect_status is not None:
        assert status == expect_status, f"exit {status}\nstdout:\n{out.getvalue()}\nstderr:\n{err.getvalue()}"
    return out.getvalue(), err.getvalue(), status


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_without_a_path_it_plays_tests_conversations_of_the_current_folder(monkeypatch):
    # Whether they all pass is test_conversations' business; here: all found, all played.
    turns = sum(len(c.turns) for c in conversations.load([PROJECT / "tests" / "conversations"]))
    out, err, status = chatbot("eval", cwd=PROJECT, monkeypatch=monkeypatch)
    assert out.splitlines()[0].split() == ["intent", "turns", "passed", "accuracy"]
    assert f"/{turns} turns passed" in out
    assert status == (1 if "\nFAIL " in out else 0)
    assert err == ""


def test_a_passing_file_reports_its_intent_at_full_accuracy(tmp_path):
    out, _, _ = chatbot("eval", str(write(tmp_path, "ok.yaml", PASSING)), expect_status=0)
    assert any(line.split() == ["botox_alcohol", "1", "1", "100.0%"] for line in out.splitlines())
    assert "Total: 1/1 turns passed (100.0%), 1/1 conversations passed." in out


def test_a_failing_turn_shows_what_was_expected_beside_what_came_back(tmp_path):
    out, err, _ = chatbot("eval", str(write(tmp_path, "bad.yaml", FAILING)), expect_status=1)
    assert any(line.split() == ["botox_alcohol", "1", "0", "0.0%"] for line in out.splitlines())
    assert "FAIL expects the wrong intent" in out and "turn 1" in out
    intent_row = next(line for line in out.splitlines() if line.startswith("  intent "))
    assert "botox_alcohol" in intent_row and "fillers_alcohol" in intent_row
    assert intent_row.index("botox_alcohol") < intent_row.index("fillers_alcohol")
    assert '"a phrase the reply never has"' in out
    assert "| The article" in out   # the reply itself is shown under the failure
    assert "Total: 1/2 turns passed (50.0%), 0/1 conversations passed." in out
    assert err == ""


def test_json_gives_one_object_with_totals_intents_and_failures(tmp_path):
    out, _, _ = chatbot("--json", "eval", str(write(tmp_path, "bad.yaml", FAILING)), expect_status=1)
    report = json.loads(out)
    assert (report["passed"], report["total"]) == (1, 2)
    assert report["intents"]["botox_alcohol"] == {"turns": 1, "passed": 0}
    assert [m["check"] for m in report["failures"][0]["mismatches"]] == ["intent", "says"]


def test_a_folder_is_searched_for_yaml_files(tmp_path):
    write(tmp_path, "one.yaml", PASSING)
    write(tmp_path, "two.yml", PASSING)
    write(tmp_path, "notes.txt", "not a conversation")
    out, _, _ = chatbot("eval", str(tmp_path), expect_status=0)
    assert "Total: 2/2 turns passed" in out


@pytest.mark.parametrize("name, text, says", [
    ("broken.yaml", "- name: x\n  turns: [\n", "not valid YAML"),
    ("dict.yaml", "name: x\n", "expected a list of conversations"),
    ("noturns.yaml", "- name: x\n", "needs 'name' and a list of 'turns'"),
    ("typo.yaml", "- name: x\n  turns:\n    - user: hi\n      intnet: greeting\n", "unknown keys"),
    ("day.yaml", "- name: x\n  today: 12\n  turns:\n    - user: hi\n", "'today' must be a date"),
    ("baddate.yaml", "- name: x\n  today: '2026-13-45'\n  turns:\n    - user: hi\n", "month"),
])
def test_an_unusable_file_is_one_line_on_stderr(tmp_path, name, text, says):
    out, err, _ = chatbot("eval", str(write(tmp_path, name, text)), expect_status=1)
    assert out == ""
    assert len(err.splitlines()) == 1 and says in err and err.startswith("chatbot eval: ")
    assert "Traceback" not in err


def test_a_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("- name: café\n".encode("latin-1"))
    _, err, _ = chatbot("eval", str(path), expect_status=1)
    assert err == f"chatbot eval: {path}: not UTF-8 text\n"


def test_a_missing_path_is_one_line_on_stderr(tmp_path):
    _, err, _ = chatbot("eval", str(tmp_path / "nowhere.yaml"), expect_status=1)
    assert err == f"chatbot eval: {tmp_path / 'nowhere.yaml'}: no such file or folder\n"


def test_without_a_path_and_without_the_default_folder_it_says_so(tmp_path, monkeypatch):
    _, err, _ = chatbot("eval", cwd=tmp_path, monkeypatch=monkeypatch, expect_status=1)
    assert "there is no tests/conversations folder" in err and len(err.splitlines()) == 1


def test_a_folder_without_conversations_is_an_error(tmp_path):
    _, err, _ = chatbot("eval", str(tmp_path), expect_status=1)
    assert "no conversations in" in err


def test_a_conversation_that_raises_is_reported_and_the_others_still_run(tmp_path):
    broken = "- name: facts must be a mapping\n  turns:\n    - user: hi\n      facts: [a]\n"
    write(tmp_path, "a.yaml", broken)
    write(tmp_path, "b.yaml", PASSING)
    out, err, _ = chatbot("eval", str(tmp_path), expect_status=1)
    assert "BROKEN facts must be a mapping" in out
    assert "Total: 1/2 turns passed" in out and "1/2 conversations passed" in out
    assert err.count("\n") == 1 and "AttributeError" in err and "Traceback" not in err


def test_what_the_person_wrote_is_never_sent_raw_to_the_terminal(tmp_path):
    text = ('- name: "\\e]0;pwned\\a title"\n  today: 2026-11-27\n  turns:\n'
            '    - user: "\\e[2J\\e[31mhello"\n      intent: nothing_like_this\n')
    out, _, _ = chatbot("eval", str(write(tmp_path, "esc.yaml", text)), expect_status=1)
    assert "FAIL" in out and "hello" in out
    assert "\x1b" not in out and "\x07" not in out


def test_an_escape_sequence_in_a_path_is_not_echoed_to_the_terminal(tmp_path):
    _, err, _ = chatbot("eval", str(tmp_path / "x\x1b[2J\x9b1m.yaml"), expect_status=1)
    assert "no such file or folder" in err
    assert "\x1b" not in err and "\x9b" not in err


def test_an_unquoted_yaml_date_in_facts_matches_the_date_the_reply_holds(tmp_path):
    text = ("- name: unquoted date\n  today: 2026-11-27\n  turns:\n"
            "    - user: I'm getting fillers on 2026-12-04\n"
            "      facts: {appointment_date: 2026-12-04}\n")
    out, _, _ = chatbot("eval", str(write(tmp_path, "date.yaml", text)), expect_status=0)
    assert "1/1 turns passed" in out


QUESTIONS = """
- q: can men get botox
  topic: out_of_scope
- q: how long does a botox appointment take
  topic: duration
  treatment: botox
- q: can i drink before fillers
  topic: alcohol
  treatment: fillers
- q: what is botox
  topic: cost
- q: how many sessions will i need
  topic: [longevity]
"""


def test_a_question_file_is_scored_by_topic_with_confidently_wrong_and_confusions(tmp_path, monkeypatch):
    path = write(tmp_path, "questions.yaml", QUESTIONS)
    out, _, status = chatbot("eval", str(path), expect_status=1)
    assert "Total: 3/5 turns passed" in out
    # "what is botox" answered as what it is, labelled cost: confidently wrong; the sessions
    # question is asked back, which is a miss but not a confident one.
    assert ('Confidently wrong (failed with scope "answered"): 1/5 (20.0%); '
            'asked back ("did you mean"): 1.') in out
    assert "  cost" in out and "botox_what" in out.split("Confusions")[1]
    out, _, _ = chatbot("--json", "eval", str(path))
    report = json.loads(out)
    assert report["confidently_wrong"] == 1 and report["asked_back"] == 1
    assert {"expected": "cost", "got": "botox_what", "turns": 1} in report["confusions"]


@pytest.mark.parametrize("reply, topics, treatment, expected", [
    ({"intent": "fillers_alcohol", "scope": "partial", "handoff": True}, ["alcohol"], "fillers", True),
    ({"intent": "fillers_alcohol", "scope": "partial", "handoff": True}, ["alcohol"], "botox", False),
    ({"intent": "order", "scope": "answered", "handoff": False}, ["order"], "botox", True),
    ({"intent": "botox_men", "scope": "out_of_scope", "handoff": True}, ["out_of_scope"], None, True),
    ({"intent": "clarify", "scope": "partial", "handoff": False, "follow_up": "topic"}, ["out_of_scope"],
     None, False),
    ({"intent": "recommend_botox", "scope": "answered", "handoff": False}, ["recommend"], None, True),
    ({"intent": "botox_hair_removal", "scope": "partial", "handoff": True}, ["hair_removal"], None, True),
    ({"intent": "botox_what", "scope": "answered", "handoff": False}, ["what", "mechanism"], "botox", True),
])
def test_a_reply_reads_as_a_labelled_topic(reply, topics, treatment, expected):
    assert conversations.reads_as(reply, topics, treatment) is expected


def test_a_question_without_a_topic_is_one_clear_error(tmp_path):
    path = write(tmp_path, "bad.yaml", "- q: hello\n")
    _, err, _ = chatbot("eval", str(path), expect_status=1)
    assert err.count("\n") == 1 and "'topic'" in err
