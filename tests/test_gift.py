"""`quiz --export gift`: the whole bank in Moodle's GIFT format, read back by an independent parser."""
import io
import re

import pytest

from chatbot import cli, gift, quiz
from chatbot.environment import Environment


def run(*argv, environ=None):
    env = Environment(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ={"CHATBOT_TODAY": "2026-11-27", **(environ or {})})
    status = cli.main(list(argv), env)
    return status, env.stdout.getvalue(), env.stderr.getvalue()


def _split(text, mark):
    """Split at unescaped `mark` characters."""
    parts, current, escaped = [], "", False
    for ch in text:
        if escaped:
            current += "\\" + ch
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == mark:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def _unescape(text):
    return re.sub(r"\\(.)", r"\1", text)


def parse(text):
    """A small GIFT reader for multiple-choice questions: categories, names, options, feedback."""
    questions, category = [], None
    blocks = [b for b in re.split(r"\n\s*\n", text) if b.strip()]
    for block in blocks:
        lines = [line for line in block.splitlines() if not line.startswith("//")]
        if not lines:
            continue
        if lines[0].startswith("$CATEGORY:"):
            category = lines[0][len("$CATEGORY:"):].strip()
            continue
        head = lines[0]
        match = re.match(r"^::(.*?)::(\[\w+\])?(.*)\{$", head)
        assert match, head
        assert lines[-1] == "}", block
        options, general = [], None
        for line in lines[1:-1]:
            if line.startswith("####"):
                general = _unescape(line[4:])
                continue
            assert line[0] in "=~", line
            answer, *feedback = _split(line[1:], "#")
            assert len(feedback) == 1, line
            options.append({"right": line[0] == "=", "text": _unescape(answer),
                            "feedback": _unescape(feedback[0])})
        questions.append({"category": category, "name": _unescape(match.group(1)),
                          "format": match.group(2), "text": _unescape(match.group(3)),
                          "options": options, "general": general})
    return questions


def test_the_export_parses_back_into_the_whole_bank_with_feedback_per_option():
    status, out, err = run("quiz", "--export", "gift", "--seed", "3")
    bank = quiz.bank(3)
    parsed = parse(out)
    assert status == 0 and err == ""
    assert len(parsed) == len(bank)
    for question, read in zip(bank, parsed):
        assert read["text"] == question.text
        assert read["category"] == f"{gift.CATEGORY}/{question.kind}"
        assert [o["text"] for o in read["options"]] == list(question.choices)
        assert [o["right"] for o in read["options"]].count(True) == 1
        right = next(o for o in read["options"] if o["right"])
        assert right["text"] == question.choices[question.answer]
        assert question.explanation in right["feedback"]
        for option in read["options"]:
            assert option["feedback"].strip()
            if not option["right"]:
                assert option["feedback"].startswith("Not this one.")
        assert read["general"] == "Sources: " + (", ".join(question.sources)
                                                 or "none: the article says nothing on this")
    assert len({q["name"] for q in parsed}) == len(parsed)


@pytest.mark.parametrize("text", ["a: b", "x = y", "{braces}", "tilde ~ here", "# hash", "back\\slash",
                                  "all ~=#{}:\\ of them"])
def test_special_characters_are_escaped_and_read_back(text):
    escaped = gift.escape(text)
    assert _split(escaped, "#") == [escaped] and _split(escaped, "~") == [escaped]
    assert _unescape(escaped) == text


def test_the_export_to_a_file_says_how_many_questions(tmp_path):
    target = tmp_path / "bank.gift"
    status, out, err = run("quiz", "--export", "gift", "-o", str(target))
    assert status == 0 and out == ""
    assert f"questions written to {target}" in err
    assert len(parse(target.read_text(encoding="utf-8"))) == len(quiz.bank(0))


def test_a_topic_narrows_the_export():
    out = run("quiz", "--export", "gift", "--topic", "combining")[1]
    assert {q["category"] for q in parse(out)} == {f"{gift.CATEGORY}/combining"}


@pytest.mark.parametrize("argv, status", [(("quiz", "--export", "moodle-xml"), 2),
                                          (("quiz", "--export", "gift", "-o", "/no/such/folder/x.gift"), 1),
                                          (("quiz", "-o", "x.gift"), 1)])
def test_a_bad_export_is_one_clear_line(argv, status):
    code, out, err = run(*argv)
    assert code == status and out == "" and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
