"""The training quiz: generated from the knowledge base, in agreement with the chatbot, graded at once."""
import dataclasses
import io
import json
import re

import pytest

from chatbot import cli, quiz
from chatbot.environment import Environment
from chatbot.knowledge import inventory

ID = re.compile(r"\[([A-Z]+(?:-[A-Z]+)+)\]")
SEEDS = (0, 1, 2, 3)


def _questions():
    """Every distinct question over a few seeds (seeds vary the items and the wrong options)."""
    seen = {}
    for seed in SEEDS:
        for question in quiz.bank(seed):
            seen.setdefault(question.probe, question)
    return list(seen.values())


ALL = _questions()


def run(*argv, stdin=""):
    """Run `python -m chatbot ARGV` in-process: (exit status, stdout, stderr)."""
    env = Environment(stdin=io.StringIO(stdin), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ={"CHATBOT_TODAY": "2026-11-27"})
    status = cli.main(list(argv), env)
    return status, env.stdout.getvalue(), env.stderr.getvalue()


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# -- generated from the knowledge base -------------------------------------------------------------
def test_every_kind_of_question_is_generated():
    assert {q.kind for q in quiz.bank(0)} == set(quiz.KINDS)


def test_every_topic_of_the_command_line_has_questions():
    for topic in quiz.TOPICS:
        assert quiz.build(count=5, topic=topic, seed=1).questions, topic


def test_the_same_seed_gives_the_same_quiz():
    first, second = quiz.build(count=10, seed=42), quiz.build(count=10, seed=42)
    assert first.questions == second.questions


def test_another_seed_gives_another_quiz():
    texts = {tuple((q.text, q.choices) for q in quiz.build(count=10, seed=seed).questions)
             for seed in range(5)}
    assert len(texts) == 5


def test_without_a_seed_a_seed_is_chosen_and_shown_so_the_quiz_can_be_repeated():
    status, out, _ = run("quiz", "--count", "2")
    seed = int(re.search(r"--seed (\d+)", out).group(1))
    assert status == 0
    assert out.splitlines()[3:6] == run("quiz", "--count", "2", "--seed", str(seed))[1].splitlines()[3:6]


def test_a_ten_question_quiz_mixes_every_kind():
    chosen = quiz.build(count=10, seed=5).questions
    assert len(chosen) == 10
    assert {q.kind for q in chosen} == set(quiz.KINDS)
    assert len({q.subject for q in chosen}) == 10


@pytest.mark.parametrize("topic, allowed", [
    ("botox", {"botox"}), ("fillers", {"fillers"}), ("combining", {"combining"}),
    ("precautions", {"precautions"}),
])
def test_a_topic_keeps_to_its_questions(topic, allowed):
    chosen = quiz.build(count=100, topic=topic, seed=3).questions
    assert chosen and all(allowed <= set(q.tags) for q in chosen)


def test_botox_questions_never_ask_about_fillers_and_the_reverse():
    for question in quiz.bank(0):
        if "botox" in question.tags:
            assert "fillers" not in question.tags
            assert "fillers" not in question.probe[-1].lower()


def test_every_question_has_distinct_choices_and_one_right_answer():
    for question in ALL:
        assert len(question.choices) == len(set(question.choices)) >= 3, question.text
        assert 0 <= question.answer < len(question.choices)


def test_every_right_answer_shows_the_inventory_ids_it_rests_on():
    ids = set(inventory.facts())
    for question in ALL:
        cited = set(ID.findall(question.explanation))
        assert set(question.sources) <= ids
        assert cited == set(question.sources), (question.text, question.explanation)
        assert "\n" not in question.explanation


def test_an_answer_with_no_sources_says_the_article_is_silent():
    silent = [q for q in ALL if not q.sources]
    assert silent
    for question in silent:
        assert "does not cover" in question.explanation
        assert "licensed injector" in question.choices[question.answer]


# -- the right answer agrees with the chatbot --------------------------------------------------------
@pytest.mark.parametrize("question", ALL, ids=[" ".join(q.probe) for q in ALL])
def test_the_right_answer_agrees_with_what_the_chatbot_says(question, bot):
    session = bot.session()
    for message in question.probe:
        reply = session.ask(message)
    assert reply.scope == question.expect["scope"], reply.text
    assert reply.handoff == question.expect["handoff"], reply.text
    assert set(question.sources) <= set(reply.sources), reply.text
    if "intent" in question.expect:   # where the answer is a decision (which treatment), compare it
        assert reply.intent == question.expect["intent"], reply.text


def test_the_order_the_quiz_teaches_is_the_one_the_inventory_states():
    text = inventory.facts()["CMB-ORDER"].text.lower()
    assert text.index(quiz.FIRST.rstrip("s")) < text.index(quiz._other(quiz.FIRST).rstrip("s"))
    order = next(q for q in quiz.bank(0) if q.subject == ("order",))
    assert order.choices[order.answer].lower().startswith(quiz.FIRST.rstrip("s"))


def test_the_agreement_check_covers_every_kind():
    assert {q.kind for q in ALL} == set(quiz.KINDS)
    assert {q.expect["scope"] for q in ALL} == {"answered", "partial", "out_of_scope"}


@pytest.mark.parametrize("subjects, right_words, sources", [
    ([("medicines", "botox")], "dermal fillers only", {"BTX-HISTORY"}),
    ([("supplements", "fillers")], "Pass on the article's advice for dermal fillers", {"FIL-SUPPLEMENTS"}),
    ([("cost", "fillers")], "no figure on cost for dermal fillers", {"BTX-COST"}),
    ([("duration", "botox")], "15 to 30 minutes", {"BTX-DURATION"}),
    ([("alcohol", "fillers", "ask"), ("alcohol", "fillers", "told")], "Botox only", {"BTX-ALCOHOL"}),
    ([("pregnancy", "botox")], "dermal fillers only", {"FIL-CONTRA"}),
    ([("what", "fillers"), ("ingredients", "fillers"), ("mechanism", "fillers")],
     "collagen or hyaluronic acid", {"FIL-WHAT"}),
    ([("longevity", "botox")], "does not cover", set()),
    ([("safety", "botox")], "does not cover side effects", {"BTX-DANGER"}),
])
def test_the_issue_s_examples_get_the_faithful_answer(subjects, right_words, sources):
    found = [q for q in ALL if (q.subject in subjects or q.subject[:2] in subjects)
             and q.subject[-1] != "prescribed"]
    assert found, subjects
    for question in found:
        assert right_words in question.choices[question.answer]
        assert sources <= set(question.sources)


def test_a_filler_precaution_is_never_the_right_answer_for_botox():
    filler_precautions = {i for t in inventory.topics().values() if t.precaution
                          for i in t.sources.get("fillers", [])}
    for question in ALL:
        if "botox" in question.tags and filler_precautions & set(question.sources):
            assert question.expect == {"scope": "partial", "handoff": True}
            assert "only" in question.choices[question.answer]


# -- reading answers ------------------------------------------------------------------------------
FIGURES = ("The article gives no figure for Botox: refer her to a licensed injector.",
           "15 to 30 minutes", "as little as 10 minutes", "$250 to $500")
TREATMENTS = ("Botox", "Dermal fillers", "Both: Botox first, then dermal fillers",
              "Both: dermal fillers first, then Botox")


@pytest.mark.parametrize("answer, choices, expected", [
    ("b", FIGURES, 1), ("B", FIGURES, 1), ("b)", FIGURES, 1), ("(c)", FIGURES, 2), ("D.", FIGURES, 3),
    ("  a  ", FIGURES, 0), ("option c", FIGURES, 2),
    ("fifteen to thirty minutes", FIGURES, 1), ("15-30 minutes", FIGURES, 1),
    ("Fifteen To Thirty", FIGURES, 1), ("as little as ten minutes", FIGURES, 2),
    ("two hundred and fifty to five hundred dollars", FIGURES, 3), ("$250-$500", FIGURES, 3),
    ("the article gives no figure for botox", FIGURES, 0),
    ("AS LITTLE AS 10 MINUTES", FIGURES, 2),
    ("fillers", TREATMENTS, 1), ("botox", TREATMENTS, 0), ("botox first", TREATMENTS, 2),
    ("both, fillers first", TREATMENTS, 3),
])
def test_an_answer_is_understood_as_a_letter_or_in_words(answer, choices, expected):
    assert quiz.interpret(answer, choices) == expected


@pytest.mark.parametrize("answer, choices", [
    ("e", FIGURES), ("", FIGURES), ("   ", FIGURES), ("maybe", FIGURES), ("20 minutes", FIGURES),
    ("both", TREATMENTS), ("???", TREATMENTS), ("abc", TREATMENTS), ("\x1b[2J", TREATMENTS),
])
def test_an_unclear_answer_is_not_guessed(answer, choices):
    assert quiz.interpret(answer, choices) is None


PRECAUTION = ("The article gives the alcohol precaution for Botox only and says nothing on it for "
              "dermal fillers. The client should check with a licensed injector.",
              "Reassure the client: the article says this is no problem before dermal fillers.",
              "Tell the client the article rules dermal fillers out for them altogether.",
              "The advice the article gives for Botox holds for dermal fillers as well: skip alcohol.")


@pytest.mark.parametrize("answer", ["no", "yes", "botox", "fillers", "both", "sure", "article"])
def test_a_one_word_answer_that_fits_several_options_is_not_guessed(answer):
    assert quiz.interpret(answer, PRECAUTION) is None


@pytest.mark.parametrize("answer, expected", [("reassure", 1), ("Reassure the client", 1),
                                              ("rules", 2), ("the alcohol precaution for botox only", 0)])
def test_a_word_that_only_one_option_has_picks_it(answer, expected):
    assert quiz.interpret(answer, PRECAUTION) == expected


@pytest.mark.parametrize("answer", ["between fifteen and thirty minutes", "fifteen and thirty",
                                    "between 15 and 30 minutes"])
def test_number_words_joined_by_and_are_a_range_not_a_sum(answer):
    assert quiz.interpret(answer, FIGURES) == 1


def test_and_still_joins_hundreds_and_units():
    assert quiz.words_of("two hundred and fifty") == ["250"]
    assert quiz.words_of("fifteen and thirty") == ["15", "and", "30"]


@pytest.mark.parametrize("answer", ["skip", "Skip", "don't know", "I don't know", "no idea", "dunno",
                                    "not sure"])
def test_skip_and_dont_know_are_recognised(answer):
    assert quiz.skipped(answer)


@pytest.mark.parametrize("answer", ["b", "no", "knowing", "skipping rope"])
def test_other_answers_are_not_skips(answer):
    assert not quiz.skipped(answer)


def test_every_grade_echoes_the_option_it_understood():
    questions = quiz.build(count=3, seed=12).questions
    wrong = "a" if questions[1].answer != 0 else "b"
    answers = [questions[0].choices[questions[0].answer].lower(), wrong, quiz.LETTERS[questions[2].answer]]
    out = run("quiz", "--count", "3", "--seed", "12", stdin="\n".join(answers) + "\n")[1]
    for question, letter in zip(questions, (quiz.LETTERS[questions[0].answer], wrong,
                                            quiz.LETTERS[questions[2].answer])):
        index = quiz.LETTERS.index(letter)
        assert f"You answered {letter}) {question.choices[index]}." in out


def test_a_skipped_question_is_graded_wrong_and_explained():
    question = quiz.build(count=1, seed=13).questions[0]
    out = run("quiz", "--count", "1", "--seed", "13", stdin="don't know\n")[1]
    assert "You skipped this one, so it counts as wrong." in out
    assert f"The answer is {question.right}" in out and f"Why: {question.explanation}" in out
    assert "Please answer with a letter" not in out
    assert "Score: 0 of 1 answered" in out and "not passed" in out


def test_json_mode_grades_a_skip_and_says_what_it_understood():
    questions = quiz.build(count=2, seed=14).questions
    lines = json_lines(run("quiz", "--json", "--count", "2", "--seed", "14",
                           stdin=f"skip\n{quiz.LETTERS[questions[1].answer]}\n")[1])
    assert lines[1]["skipped"] is True and lines[1]["correct"] is False and lines[1]["understood"] is None
    assert lines[3]["understood"] == questions[1].right and lines[3]["correct"] is True
    assert lines[-1]["ended_early"] is False and lines[-1]["seed"] == 14


@pytest.mark.parametrize("pass_mark, right, passed", [("80", 4, True), ("80", 3, False), ("100", 4, False),
                                                      ("60", 3, True), ("0", 0, True)])
def test_the_pass_mark_decides_pass_or_fail(pass_mark, right, passed):
    letters = right_letters(5, 15)
    answers = letters[:right] + ["a" if x != "a" else "b" for x in letters[right:]]
    lines = json_lines(run("quiz", "--json", "--count", "5", "--seed", "15", "--pass", pass_mark,
                           stdin="\n".join(answers) + "\n")[1])
    assert lines[-1]["passed"] is passed and lines[-1]["pass_mark"] == int(pass_mark)
    out = run("quiz", "--count", "5", "--seed", "15", "--pass", pass_mark, stdin="\n".join(answers) + "\n")[1]
    assert ("): passed." if passed else "): not passed.") in out
    assert ("well done" in out) == (passed and right == 5)


def test_an_abandoned_quiz_never_says_well_done():
    out = run("quiz", "--count", "3", "--seed", "16", stdin="")[1]
    assert "3 of 3 questions were left unanswered" in out and "well done" not in out


def test_the_text_of_every_choice_is_understood_as_that_choice():
    for question in ALL:
        for index, choice in enumerate(question.choices):
            assert quiz.interpret(choice, question.choices) == index
            assert quiz.interpret(choice.upper(), question.choices) == index


# -- the command ----------------------------------------------------------------------------------
def right_letters(count, seed, topic=None):
    return [quiz.LETTERS[q.answer] for q in quiz.build(count=count, topic=topic, seed=seed).questions]


def test_a_trainee_runs_a_ten_question_quiz_and_is_graded_with_sources():
    letters = right_letters(10, 8)
    answers = letters[:7] + ["a" if letter != "a" else "b" for letter in letters[7:]]
    status, out, err = run("quiz", "--seed", "8", stdin="\n".join(answers) + "\n")
    assert status == 0 and err == ""
    assert out.count("Sources:") == 10
    assert out.count("Right.") == 7 and out.count("Not quite.") == 3
    assert "Score: 7 of 10 answered" in out
    assert "Topics to review: " in out


def test_answers_in_words_are_graded_like_letters():
    questions = quiz.build(count=4, seed=9).questions
    words = "\n".join(q.choices[q.answer].lower() for q in questions) + "\n"
    assert "Score: 4 of 4 answered" in run("quiz", "--count", "4", "--seed", "9", stdin=words)[1]


def test_an_unrecognised_answer_is_asked_again_in_the_terminal():
    right = right_letters(2, 4)
    status, out, _ = run("quiz", "--count", "2", "--seed", "4",
                         stdin=f"what?\n\nz\n{right[0]}\n{right[1]}\n")
    assert status == 0
    assert out.count("Please answer with a letter") == 3
    assert "Score: 2 of 2 answered" in out


def test_end_of_input_ends_the_quiz_early_with_the_score_so_far():
    right = right_letters(5, 6)
    status, out, _ = run("quiz", "--count", "5", "--seed", "6", stdin=f"{right[0]}\n{right[1]}\n")
    assert status == 0
    assert "ended early: 3 of 5 questions were left unanswered" in out
    assert "Score: 2 of 2 answered" in out and "not passed" in out
    assert "well done" not in out


def test_json_mode_writes_a_question_a_grade_and_a_final_score():
    right = right_letters(3, 11)
    status, out, _ = run("quiz", "--json", "--count", "3", "--seed", "11",
                         stdin=f"{right[0]}\nnonsense answer\n{'a' if right[2] != 'a' else 'b'}\n")
    lines = json_lines(out)
    assert status == 0 and len(lines) == 7
    for n in (1, 2, 3):
        question, grade = lines[2 * n - 2], lines[2 * n - 1]
        assert set(question) == {"n", "question", "choices"} and question["n"] == n
        assert set(grade) == {"n", "correct", "answer", "understood", "skipped", "explanation",
                              "sources"} and grade["n"] == n
        assert grade["answer"].startswith(right[n - 1] + ") ")
    assert [line["correct"] for line in lines[1:6:2]] == [True, False, False]
    assert "not recognised" in lines[3]["explanation"]
    assert lines[-1]["score"] == 1 and lines[-1]["total"] == 3 and len(lines[-1]["review"]) == 2


def test_json_mode_ends_at_end_of_input_with_the_score_so_far():
    lines = json_lines(run("quiz", "--json", "--count", "4", "--seed", "2", stdin="a\n")[1])
    assert set(lines[-1]) == {"score", "total", "planned", "unanswered", "ended_early", "percent",
                              "pass_mark", "passed", "seed", "review"}
    assert lines[-1]["total"] == 1 and len(lines) == 4
    assert lines[-1]["ended_early"] is True and lines[-1]["unanswered"] == 3
    assert lines[-1]["seed"] == 2 and lines[-1]["passed"] is False


def test_a_count_beyond_the_questions_available_is_capped_with_a_note():
    status, out, err = run("quiz", "--json", "--topic", "combining", "--count", "500", "--seed", "1")
    available = quiz.build(count=500, topic="combining", seed=1).available
    assert status == 0 and 0 < available < 500
    assert f"only {available} distinct questions on combining" in err
    assert json_lines(out)[0]["n"] == 1


@pytest.mark.parametrize("garbage", ["\x00\x01", "a" * 10000, "💉💉", "\x1b[31mred", "b\r\n", "  (B)  "])
def test_odd_input_never_gives_a_traceback(garbage):
    status, out, err = run("quiz", "--count", "2", "--seed", "1", stdin=garbage + "\n")
    assert status == 0 and "Traceback" not in out + err
    assert "Score:" in out
    assert "\x1b" not in out


@pytest.mark.parametrize("argv", [("quiz", "--count", "0"), ("quiz", "--topic", "lips"),
                                  ("quiz", "--seed", "x"), ("quiz", "--pass", "120"),
                                  ("quiz", "--pass", "most")])
def test_bad_arguments_are_one_line_errors(argv):
    status, out, err = run(*argv)
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1


# -- the knowledge base drives the quiz ----------------------------------------------------------------
def test_changing_a_fact_changes_the_quiz(monkeypatch):
    facts = dict(inventory.facts())
    facts["BTX-DURATION"] = dataclasses.replace(
        facts["BTX-DURATION"], text="A Botox session takes 20 to 45 minutes.",
        detail={"minutes_min": 20, "minutes_max": 45})
    monkeypatch.setattr(inventory, "facts", lambda: facts)
    question = next(q for q in quiz.bank(0) if q.probe == ("How long does Botox take?",))
    assert question.choices[question.answer] == "20 to 45 minutes"
    assert "15 to 30 minutes" not in question.choices
    assert "20 to 45 minutes. [BTX-DURATION]" in question.explanation


def test_a_precaution_moved_to_the_other_treatment_moves_the_right_answer(monkeypatch):
    topics = dict(inventory.topics())
    topics["alcohol"] = dataclasses.replace(topics["alcohol"], sources={"fillers": ["BTX-ALCOHOL"]})
    monkeypatch.setattr(inventory, "topics", lambda: topics)
    question = next(q for q in quiz.bank(0) if q.kind == "precaution"
                    and q.subject[:2] == ("alcohol", "fillers"))
    assert question.expect == {"scope": "answered", "handoff": False}
    assert question.choices[question.answer].startswith("Pass on the article's advice for dermal fillers")


# -- the question bank: no giveaways, no duplicates, neutral wording -----------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_questions_that_share_one_right_answer_are_merged(seed):
    keys = [(q.choices[q.answer], q.sources[:1] if q.kind == "combining" else ())
            for q in quiz.bank(seed)]
    assert len(keys) == len(set(keys))
    texts = [q.choices[q.answer] for q in quiz.bank(seed)]
    assert max(texts.count(text) for text in texts) <= 3


def test_a_blank_leaves_no_singular_or_plural_clue():
    telling = {"is", "are", "has", "have", "was", "were", "does", "do", "stops", "costs", "need", "needs"}
    for question in ALL:
        if question.kind != "fact":
            continue
        for choice in question.choices:
            after = re.findall(r"___ ([\w/()]+)", choice)
            assert not telling & set(after), choice


def test_a_fact_question_draws_its_wrong_options_from_facts_of_the_same_kind():
    precautions = {i for ids in inventory.topics()["precautions"].sources.values() for i in ids}
    masked = {}
    bank = quiz.Bank(__import__("random").Random(0))
    for fact_id in inventory.facts():
        masked[bank.masked(fact_id)] = fact_id
    for question in ALL:
        if question.kind != "fact" or question.subject[0] == "lunchtime":
            continue
        for index, choice in enumerate(question.choices):
            if index == question.answer:
                continue
            fact_id = masked[choice]
            assert fact_id not in precautions and not inventory.facts()[fact_id].detail.get("usd_min"), \
                (question.text, choice)


def test_a_figure_question_offers_figures_of_one_kind_only():
    units = {"minutes": "minute", "days": "day", "$": "$"}
    for question in ALL:
        if question.kind != "figure":
            continue
        kinds = {unit for choice in question.choices for unit in units if unit in choice
                 and "no figure" not in choice}
        assert len(kinds) == 1, question.choices


def test_the_bank_asks_whether_botox_is_safe_and_teaches_the_toxin_danger():
    question = next(q for q in ALL if q.probe == ("Is Botox safe?",))
    assert "BTX-DANGER" in question.sources and "deadly" in question.choices[question.answer]
    assert "licensed injector" in question.choices[question.answer]


@pytest.mark.parametrize("fact_id", ["FIL-LUNCHTIME", "CARE-ROUTINE", "CMB-RESULT", "BTX-DANGER",
                                     "BTX-UNITS"])
def test_the_bank_covers_the_facts_the_manager_missed(fact_id):
    assert any(fact_id in q.sources for q in quiz.bank(0))


def test_the_lunchtime_question_names_fillers():
    question = next(q for q in ALL if q.subject == ("lunchtime", "fillers"))
    assert question.choices[question.answer] == "Dermal fillers"


def test_a_prescribed_medicine_is_never_to_be_stopped_on_the_clients_own():
    found = [q for q in ALL if q.subject[-1] == "prescribed"]
    assert found
    for question in found:
        right = question.choices[question.answer]
        assert "must not stop it on their own" in right
        assert question.expect == {"scope": "partial", "handoff": True}
        assert any(choice.startswith("Tell the client to stop taking") for choice in question.choices)


def test_the_medicine_answer_carries_the_caveat_the_chatbot_gives(bot):
    for question in ALL:
        if question.kind == "precaution" and question.subject[:2] == ("medicines", "fillers") \
                and question.subject[-1] != "prescribed":
            assert "If a doctor prescribed the medicine" in question.choices[question.answer]
            session = bot.session()
            for message in question.probe:
                reply = session.ask(message)
            assert "prescribed" in reply.text


def test_the_wording_speaks_of_the_client_not_her():
    for question in ALL:
        for text in (question.text, question.explanation, *question.choices):
            assert not re.search(r"\b(?:she|her|hers|herself)\b", text, re.IGNORECASE), text
