"""Training records: a finished quiz kept under a name, listed and exported as CSV for the manager."""
import csv
import io
import sqlite3

import pytest

from chatbot import cli, quiz, records
from chatbot.environment import Environment


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


def run(data_dir, *argv, stdin="", today="2026-11-27"):
    env = Environment(stdin=io.StringIO(stdin), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ={"CHATBOT_TODAY": today, "CHATBOT_DATA_DIR": str(data_dir)})
    status = cli.main(list(argv), env)
    return status, env.stdout.getvalue(), env.stderr.getvalue()


def answers(count, seed, right):
    letters = [quiz.LETTERS[q.answer] for q in quiz.build(count=count, seed=seed).questions]
    return "\n".join(letters[:right] + ["a" if x != "a" else "b" for x in letters[right:]]) + "\n"


def test_a_finished_quiz_is_kept_under_the_trainees_name(data_dir):
    status, _, err = run(data_dir, "quiz", "--count", "5", "--seed", "4", "--name", "Ana",
                         stdin=answers(5, 4, 4))
    assert status == 0 and "Kept in the training records for Ana." in err
    (record,) = records.load(Environment(environ={"CHATBOT_DATA_DIR": str(data_dir)}))
    assert (record.name, record.taken_on, record.activity, record.seed) == ("Ana", "2026-11-27", "quiz", 4)
    assert (record.score, record.total, record.percent, record.passed) == (4, 5, 80, True)
    assert len(record.review) == 1


def test_an_abandoned_quiz_is_not_kept(data_dir):
    status, _, err = run(data_dir, "quiz", "--count", "5", "--seed", "4", "--name", "Ana", stdin="a\n")
    assert status == 0 and "not kept" in err
    assert run(data_dir, "records")[1].startswith("No training records yet")


def test_records_lists_every_trainee_and_one_by_name(data_dir):
    run(data_dir, "quiz", "--count", "3", "--seed", "1", "--name", "Ana", stdin=answers(3, 1, 3))
    run(data_dir, "quiz", "--count", "3", "--seed", "2", "--name", "Ben", stdin=answers(3, 2, 1),
        today="2026-11-28")
    status, out, _ = run(data_dir, "records")
    assert status == 0 and len(out.splitlines()) == 2
    assert "2026-11-27  Ana" in out and "3/3 (100%) passed" in out
    assert "2026-11-28  Ben" in out and "1/3 (33%) not passed; review:" in out
    assert run(data_dir, "records", "--name", "ana")[1].count("Ana") == 1
    assert "Ben" not in run(data_dir, "records", "--name", "Ana")[1]


def test_records_export_csv_for_a_spreadsheet(data_dir, tmp_path):
    run(data_dir, "quiz", "--count", "3", "--seed", "1", "--name", "Ana", stdin=answers(3, 1, 2))
    status, out, _ = run(data_dir, "records", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert status == 0 and len(rows) == 1
    assert rows[0]["name"] == "Ana" and rows[0]["passed"] == "no" and rows[0]["percent"] == "67"
    target = tmp_path / "records.csv"
    status, out, err = run(data_dir, "records", "-o", str(target))
    assert status == 0 and out == "" and "1 record written" in err
    assert list(csv.DictReader(target.open(encoding="utf-8")))[0]["seed"] == "1"


def test_a_name_that_looks_like_a_formula_is_not_run_by_a_spreadsheet(data_dir):
    env = Environment(environ={"CHATBOT_DATA_DIR": str(data_dir)})
    records.add(env, records.Record(name="=HYPERLINK(1)", taken_on="2026-11-27", activity="quiz",
                                    seed=1, score=1, total=1, percent=100, passed=True))
    assert "'=HYPERLINK(1)" in records.as_csv(records.load(env))


def test_the_file_carries_its_schema_version(data_dir):
    run(data_dir, "quiz", "--count", "1", "--seed", "1", "--name", "Ana", stdin=answers(1, 1, 1))
    connection = sqlite3.connect(data_dir / records.FILE_NAME)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == records.SCHEMA_VERSION


def test_a_file_from_a_newer_release_is_one_clear_line(data_dir):
    data_dir.mkdir()
    connection = sqlite3.connect(data_dir / records.FILE_NAME)
    connection.execute("PRAGMA user_version = 99")
    connection.commit()
    status, out, err = run(data_dir, "records")
    assert status == 1 and out == "" and len(err.strip().splitlines()) == 1 and "newer release" in err


def test_a_file_that_is_not_a_database_is_one_clear_line(data_dir):
    data_dir.mkdir()
    (data_dir / records.FILE_NAME).write_text("not a database " * 100)
    status, _, err = run(data_dir, "records")
    assert status == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv", [("quiz", "--name", ""), ("quiz", "--name", "x" * 81),
                                  ("records", "--name", "   "), ("records", "--bogus")])
def test_a_bad_name_or_flag_is_a_usage_error(data_dir, argv):
    status, out, err = run(data_dir, *argv)
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1


def test_records_go_to_the_user_data_folder_by_default(monkeypatch, tmp_path):
    import platformdirs
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(tmp_path / "userdata"))
    assert records.path(Environment(environ={})) == tmp_path / "userdata" / records.FILE_NAME
