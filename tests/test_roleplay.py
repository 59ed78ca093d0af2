"""Role-play: clients built from the knowledge base, replies graded with the understanding layer.

The agreement tests: every model answer (the chatbot's own reply) fed back as a trainee's reply
gets full marks, and stock bad replies (a reassurance, a stretched precaution, an invented figure)
get none.
"""
import io
import json

import pytest

from chatbot import cli, records, roleplay
from chatbot.environment import Environment

SEEDS = (0, 1, 2)


def _clients():
    seen = {}
    for seed in SEEDS:
        for client in roleplay.clients(seed):
            seen.setdefault((client.question, client.kind), client)
    return list(seen.values())


ALL = _clients()
LABEL = {"botox": "Botox", "fillers": "fillers"}
STRETCHED = {"alcohol": "Please avoid alcohol for two to three days before your {t}.",
             "medicines": "Please stop taking ibuprofen a few days before your {t}.",
             "supplements": "Please stop your supplements a few days before your {t}.",
             "skincare": "Please avoid retinol for a while before your {t}.",
             "hair_removal": "Please do not shave or wax before your {t}.",
             "pregnancy": "You cannot have {t} while you are pregnant.",
             "breastfeeding": "You cannot have {t} while you are breastfeeding.",
             "allergy": "You cannot have {t} if you are allergic to collagen."}
REASSURING = ("Sure, no problem!", "That's fine, see you then.", "Don't worry, it's totally safe.")


@pytest.fixture(scope="module")
def grader():
    return roleplay.Grader()


def run(*argv, stdin="", environ=None):
    env = Environment(stdin=io.StringIO(stdin), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ={"CHATBOT_TODAY": "2026-11-27", **(environ or {})})
    status = cli.main(list(argv), env)
    return status, env.stdout.getvalue(), env.stderr.getvalue()


# -- clients ----------------------------------------------------------------------------------------
def test_every_kind_of_client_is_built_from_the_knowledge_base():
    kinds = {client.kind for client in roleplay.clients(0)}
    assert kinds == set(roleplay.KINDS) | {"other_only"}


def test_clients_vary_by_treatment_item_timing_and_who_is_asking():
    says = [client.says for seed in range(6) for client in roleplay.clients(seed)]
    assert any("calling for my" in s for s in says) and any(s.startswith("I'm booked for") for s in says)
    assert len({c.item for seed in range(6) for c in roleplay.clients(seed) if c.item}) >= 6
    assert sum(any(t in s for s in says) for t in roleplay.TIMINGS) >= 3
    assert {c.treatment for c in roleplay.clients(0)} >= {"botox", "fillers"}


def test_the_same_seed_gives_the_same_session_and_another_seed_another():
    assert roleplay.build(5, 3) == roleplay.build(5, 3)
    assert roleplay.build(5, 3)[0] != roleplay.build(5, 4)[0]


def test_a_session_mixes_kinds_of_clients():
    chosen, _ = roleplay.build(5, 1)
    assert len({client.kind for client in chosen}) >= 4


# -- the agreement tests -----------------------------------------------------------------------------
@pytest.mark.parametrize("client", ALL, ids=[f"{c.kind}: {c.question}" for c in ALL])
def test_every_model_answer_fed_back_gets_full_marks(client, bot, grader):
    model = roleplay.model_answer(bot, client)
    grade = grader.grade(client, model, model.text)
    assert grade.score == 1, (grade, model.text)
    assert not grade.missing and not grade.faults


@pytest.mark.parametrize("client", ALL, ids=[f"{c.kind}: {c.question}" for c in ALL])
def test_stock_bad_replies_get_no_marks(client, bot, grader):
    model = roleplay.model_answer(bot, client)
    bad = list(REASSURING)
    if client.kind == "other_only":
        bad.append(STRETCHED[client.topic].format(t=LABEL[client.treatment]))
    if client.kind == "silent":
        bad.append("Results usually last three to four months, and it costs about $600.")
    if client.kind == "figure":
        bad.append("It takes about 45 minutes and costs $1000.")
    for reply in bad:
        grade = grader.grade(client, model, reply)
        assert grade.score == 0, (reply, grade)


def _one(kind, topic, treatment):
    return next(c for c in ALL if (c.kind, c.topic, c.treatment) == (kind, topic, treatment))


@pytest.mark.parametrize("kind, topic, treatment, reply", [
    ("precaution", "alcohol", "botox",
     "Please skip alcohol for 2 to 3 days before your Botox, as it can make bruising likelier."),
    ("other_only", "alcohol", "fillers",
     "The article only gives that advice for Botox; for fillers please check with your injector."),
    ("contraindication", "pregnancy", "fillers",
     "I'm afraid fillers aren't advisable while you're pregnant; please talk it through with the injector."),
    ("other_only", "pregnancy", "botox",
     "The guidance we have doesn't cover Botox in pregnancy, so the injector needs to decide."),
    ("silent", "longevity", "botox",
     "Our information does not say how long results last; your injector can tell you."),
    ("figure", "duration", "botox", "A Botox session takes between fifteen and thirty minutes."),
    ("figure", "cost", "botox", "It's $250-500."),
    ("precaution", "alcohol", "botox", "No alcohol for 3 days before your Botox please."),
    ("precaution", "medicines", "fillers",
     "Please avoid Advil and other blood thinners for a few days before your filler."),
    ("other_only", "medicines", "botox",
     "That advice is only for fillers; please mention the Advil to your injector when you book."),
    ("silent", "longevity", "fillers", "I'm not sure, I'll ask the injector for you."),
    ("silent", "longevity", "fillers",
     "It's fine to ask the injector about that, our guide doesn't cover it."),
])
def test_a_good_reply_in_the_trainees_own_words_gets_full_marks(bot, grader, kind, topic, treatment, reply):
    client = _one(kind, topic, treatment)
    grade = grader.grade(client, roleplay.model_answer(bot, client), reply)
    assert grade.score == 1, grade


def test_a_reply_that_forgets_the_referral_gets_part_of_the_marks(bot, grader):
    client = _one("other_only", "alcohol", "fillers")
    grade = grader.grade(client, roleplay.model_answer(bot, client),
                         "The article only gives the alcohol advice for Botox.")
    assert grade.score == 0.5
    assert grade.missing == ["a referral to a licensed injector"]
    assert grade.good == ["said the article does not cover it"]


def test_a_precaution_for_the_right_treatment_is_not_a_stretch(bot, grader):
    client = _one("precaution", "medicines", "fillers")
    reply = "Please avoid over-the-counter blood thinners like ibuprofen before your fillers."
    assert grader.grade(client, roleplay.model_answer(bot, client), reply).score == 1


def test_the_wrong_treatment_for_the_lines_gets_no_marks(bot, grader):
    client = next(c for c in ALL if c.kind == "lines" and c.recommend == "botox")
    assert grader.grade(client, roleplay.model_answer(bot, client), "Fillers would fix that.").score == 0


# -- the command ----------------------------------------------------------------------------------
def test_a_session_grades_each_reply_and_shows_the_model_answer_with_ids():
    chosen, _ = roleplay.build(2, 7)
    status, out, err = run("roleplay", "--count", "2", "--seed", "7",
                           stdin="sure, no problem\nmaybe later\n")
    assert status == 0 and err == "" and "Traceback" not in out
    assert out.count("Model answer (") == 2 and out.count("Score: 0 of 1") >= 1
    assert chosen[0].says in out
    assert "Score: 0 of 2 (0%; 80% needed): not passed." in out


def test_json_mode_writes_client_grade_and_summary():
    status, out, _ = run("roleplay", "--json", "--count", "2", "--seed", "7", stdin="no idea\n")
    lines = [json.loads(line) for line in out.splitlines()]
    assert status == 0
    assert set(lines[0]) == {"n", "client"}
    assert set(lines[1]) == {"n", "score", "good", "missing", "faults", "model", "sources"}
    assert lines[-1]["ended_early"] is True and lines[-1]["answered"] == 1 and lines[-1]["seed"] == 7


def test_a_named_finished_session_is_kept_in_the_records(tmp_path):
    chosen, _ = roleplay.build(1, 2)
    status, _, err = run("roleplay", "--count", "1", "--seed", "2", "--name", "Ana", stdin="sure, fine\n",
                         environ={"CHATBOT_DATA_DIR": str(tmp_path)})
    assert status == 0 and "Kept in the training records for Ana." in err
    (record,) = records.load(Environment(environ={"CHATBOT_DATA_DIR": str(tmp_path)}))
    assert record.activity == "roleplay" and record.seed == 2 and record.total == 1


@pytest.mark.parametrize("garbage", ["\x00\x01", "a" * 5000, "💉", "\x1b[31mred"])
def test_odd_replies_never_give_a_traceback(garbage):
    status, out, err = run("roleplay", "--count", "1", "--seed", "1", stdin=garbage + "\n")
    assert status == 0 and "Traceback" not in out + err and "\x1b" not in out


@pytest.mark.parametrize("argv", [("roleplay", "--count", "0"), ("roleplay", "--seed", "x"),
                                  ("roleplay", "--name", "")])
def test_bad_arguments_are_one_line_errors(argv):
    status, out, err = run(*argv)
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("kind, topic, treatment, reply", [
    ("other_only", "medicines", "botox", "You should stop ibuprofen before Botox."),
    ("other_only", "alcohol", "fillers", "Yes, enjoy!"),
    ("other_only", "skincare", "botox",
     "Pause your retinol for a while before the Botox, and ask your injector."),
    ("precaution", "alcohol", "botox", "Sure, a glass is fine."),
])
def test_a_faulty_reply_gets_no_marks_even_with_a_referral(bot, grader, kind, topic, treatment, reply):
    client = _one(kind, topic, treatment)
    grade = grader.grade(client, roleplay.model_answer(bot, client), reply)
    assert grade.score == 0 and grade.faults
