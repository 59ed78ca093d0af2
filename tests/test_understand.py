"""Understanding: text to questions and facts, with typos, negation, several questions, context."""
from datetime import date

import pytest

from chatbot import lexicon
from chatbot.understand import Asked, understand

TODAY = date(2026, 11, 27)
LEXICON = lexicon.load()


def read(text, context=None):
    return understand(text, LEXICON, TODAY, context or {})


@pytest.mark.parametrize("text, topic, treatment", [
    ("How long does Botox take?", "duration", "botox"),
    ("how long do fillers last", "longevity", "fillers"),
    ("whats in fillers", "ingredients", "fillers"),
    ("can i drink before my tox", "alcohol", "botox"),
    ("is botox dangerous", "safety", "botox"),
    ("price of lip filler?", "cost", "fillers"),
    ("do i need time off work after fillers", "recovery", "fillers"),
])
def test_paraphrases_find_the_topic_and_treatment(text, topic, treatment):
    assert Asked(topic, treatment) in read(text).questions


@pytest.mark.parametrize("typo, word", [("botx", "botox"), ("bottox", "botox"), ("filers", "fillers"),
                                        ("ibuprophen", "ibuprofen"), ("pregant", "pregnant"),
                                        ("alchohol", "alcohol"), ("retinoll", "retinol")])
def test_typos_of_lexicon_words_are_corrected(typo, word):
    assert LEXICON.correct(typo) == word


@pytest.mark.parametrize("word", ["filled", "think", "lines", "wearing", "things", "before", "water"])
def test_ordinary_words_are_not_turned_into_terms(word):
    assert LEXICON.correct(word) == word


@pytest.mark.parametrize("text, key, value", [
    ("I'm pregnant", "pregnant", True),
    ("I'm not pregnant", "pregnant", False),
    ("im no longer breastfeeding", "breastfeeding", False),
    ("I've never been allergic to anything", "allergic", False),
    ("I'm not sure if I'm pregnant", "pregnant", "unknown"),
    ("I don't take any supplements", "supplements", []),
    ("I take advil and ginkgo", "medicines", ["ibuprofen"]),
    ("I stopped taking aspirin", "medicines_stopped", ["aspirin"]),
])
def test_statements_and_negations_become_facts(text, key, value):
    assert read(text).told[key] == value


def test_a_negation_reaches_only_its_own_clause():
    told = read("I'm not pregnant but I take ibuprofen").told
    assert told["pregnant"] is False
    assert told["medicines"] == ["ibuprofen"] and told["blood_thinners"] is True


def test_a_question_with_can_i_is_not_a_statement():
    heard = read("can I take Advil before fillers?")
    assert "medicines" not in heard.told
    assert Asked("medicines", "fillers", "ibuprofen") in heard.questions


def test_several_questions_in_one_message_are_all_read():
    heard = read("how much is botox and how long does it take? also can i drink before?")
    topics = {q.topic for q in heard.questions}
    assert {"cost", "duration", "alcohol"} <= topics


def test_and_botox_repeats_the_last_question_for_botox():
    heard = read("and botox?", {"last_topics": ["alcohol"], "last_treatment": "fillers"})
    assert heard.questions == [Asked("alcohol", "botox")]


def test_a_vague_word_without_a_treatment_is_not_a_question():
    assert read("what's the weather like").questions == []


def test_brands_map_to_their_treatment_and_are_shown():
    heard = read("is juvederm safe")
    assert heard.treatments == ["fillers"]
    assert heard.mentions[0].says.startswith("Juvederm is a hyaluronic-acid")


def test_an_urgent_message_is_only_urgent():
    heard = read("I can't breathe properly after my filler, how long does swelling last?")
    assert heard.intents == ["urgent"] and heard.questions == []


def test_a_yes_no_answer_fills_the_pending_question():
    assert read("nope", {"pending": "pregnant"}).told == {"pregnant": False}
    assert read("not sure", {"pending": "allergic"}).told == {"allergic": "unknown"}
    assert read("skip", {"pending": "breastfeeding"}).told == {"breastfeeding": "skipped"}


def test_a_message_over_the_limit_is_not_read():
    heard = read("botox " * 500)
    assert heard.too_long and heard.questions == []


@pytest.mark.parametrize("text", ["", "   ", "?!", "\n\t"])
def test_an_empty_message_is_marked_empty(text):
    assert read(text).empty


def test_telling_the_same_lines_again_does_not_grow_the_state(session):
    for _ in range(3):
        session.ask("my forehead lines bother me")
    assert len(session.state["lines"]["hints"]) == 1


def test_the_lexicons_topics_about_both_are_the_ones_the_article_answers_for_both():
    from chatbot import lexicon
    from chatbot.knowledge import inventory
    # answered for both at once, or (the time between the two) not covered, with what comes close
    # said for both at once
    both = {name for name, topic in inventory.topics().items()
            if "any" in topic.sources or (not topic.sources and topic.related.get("any"))}
    assert set(lexicon.load().grammar.both_topics) == both


def test_every_topic_has_example_questions_and_every_example_a_topic():
    try:
        import tomllib
    except ImportError:   # Python 3.10
        import tomli as tomllib

    from chatbot.knowledge import inventory
    from chatbot.ranker import _knowledge
    examples = tomllib.loads((_knowledge() / "examples.toml").read_text(encoding="utf-8"))
    assert set(examples) == set(inventory.topics())
    assert min(len(entry["examples"]) for entry in examples.values()) >= 15


def test_every_precedence_names_topics_of_the_knowledge_base():
    from chatbot import lexicon
    from chatbot.knowledge import inventory
    named = {topic for pair in lexicon.load().grammar.precedence for topic in pair}
    assert named <= set(inventory.topics())
