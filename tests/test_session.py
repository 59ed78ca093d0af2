"""Sessions: plain-data state, independence, corrections, and engines built once and reused."""
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from chatbot.knowledge import snapshot


def test_sessions_of_one_chatbot_are_independent(bot):
    first, second = bot.session(), bot.session()
    first.ask("I'm pregnant")
    assert "pregnant" not in second.ask("can I get fillers?").facts
    assert first.facts["pregnant"] is True


def test_state_is_plain_json_and_restores_the_conversation(bot):
    session = bot.session()
    session.ask("I have filler on Friday")
    saved = json.loads(json.dumps(session.state))
    restored = bot.session(saved)
    reply = restored.ask("no")
    assert reply.follow_up == "breastfeeding" and reply.facts["pregnant"] is False


def test_a_later_statement_replaces_an_earlier_one(session):
    session.ask("I'm pregnant")
    reply = session.ask("actually I'm not pregnant")
    assert reply.facts["pregnant"] is False and reply.intent == "corrected"


def test_forget_and_reset(session):
    session.ask("I'm breastfeeding and I take ginkgo")
    assert session.forget("breastfeeding") and "breastfeeding" not in session.facts
    assert not session.forget("pregnancy")
    session.reset()
    assert session.facts == {}


def test_engines_are_built_once_and_reused_across_sessions_and_turns(monkeypatch):
    # Engines come from snapshot.build (a new one) or snapshot.loads (a saved one; loading a pickle
    # skips __init__), so both are counted. A bot of its own: other tests' turns share `bot`.
    from chatbot import Chatbot
    bot = Chatbot(today=lambda: date(2026, 11, 27))
    made = []
    for name in ("build", "loads"):
        original = getattr(snapshot, name)
        monkeypatch.setattr(snapshot, name, lambda *args, _f=original, _n=name: made.append(_n) or _f(*args))
    for text in ("hi", "how long does botox take", "and fillers?"):
        bot.session().ask(text)
    assert made == []
    # The count sees a new engine: two borrowed at once need a second one.
    first, second = bot._pool.borrow(), bot._pool.borrow()
    bot._pool.give_back(*first)
    bot._pool.give_back(*second)
    assert made


def test_a_turn_leaves_nothing_behind_in_the_engine(bot):
    bot.session().ask("I'm pregnant and I take advil, can I get fillers on friday?")
    engine, mark = bot._pool.borrow()
    try:
        assert max(engine.facts.keys()) == mark
        assert not any(type(f).__name__ in ("Told", "ReplyPart", "Question") for f in engine.facts.values())
    finally:
        bot._pool.give_back(engine, mark)


def test_concurrent_sessions_never_see_each_others_facts(bot):
    def conversation(number):
        session = bot.session()
        pregnant = number % 2 == 0
        session.ask("I'm pregnant" if pregnant else "I'm not pregnant")
        reply = session.ask("can I get fillers?")
        return pregnant, reply.facts.get("pregnant"), reply.intent, reply.handoff
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(conversation, range(40)))
    for pregnant, stored, intent, handoff in results:
        assert stored is pregnant
        assert intent == ("fillers_contraindication" if pregnant else "fillers_precautions")
        assert handoff is pregnant


def test_one_question_at_a_time_is_decided_by_a_rule(bot):
    engine, mark = bot._pool.borrow()
    try:
        from chatbot.knowledge.facts import Move, Screening, Today
        engine.declare(Today(date="2026-11-27"), Screening(treatment="botox"),
                       Screening(treatment="fillers"), Move(name="changed"))
        engine.run()
        asked = [f["follow_up"] for i, f in engine.facts.items()
                 if i > mark and type(f).__name__ == "ReplyPart" and f["follow_up"]]
        engine.retract_all([i for i in engine.facts.keys() if i > mark])
    finally:
        bot._pool.give_back(engine, mark)
    assert asked == ["alcohol"] or asked == ["pregnant"]   # one of the two checks' first questions


def _decide(bot, *facts) -> tuple[list[dict], dict]:
    from chatbot.knowledge.facts import Today
    return bot.run([Today(date="2026-11-27"), *facts])


def test_an_unreadable_answer_is_asked_again_then_passed_over_by_the_rules(bot):
    from chatbot.knowledge.facts import Awaiting, Heard, Screening
    nothing = Heard(nothing=True)
    replies, decided = _decide(bot, Screening(treatment="botox"), nothing, Awaiting(key="alcohol"))
    assert decided["missed"] == ["alcohol"] and decided["passed_over"] == []
    assert "missed_answer" in [r["intent"] for r in replies]
    replies, decided = _decide(bot, Screening(treatment="botox"), nothing,
                               Awaiting(key="alcohol", missed=True))
    assert decided["passed_over"] == ["alcohol"] and decided["missed"] == []
    # no check running, a question that is not a check's, or a check of the other treatment only
    assert _decide(bot, Screening(treatment="botox"), nothing,
                   Awaiting(key="pregnant"))[1]["missed"] == []
    assert _decide(bot, nothing, Awaiting(key="alcohol"))[1]["missed"] == []
    assert _decide(bot, Screening(treatment="botox"), nothing,
                   Awaiting(key="lines_at_rest"))[1]["missed"] == []
    # something was read: not missed
    assert _decide(bot, Screening(treatment="botox"), Heard(told=True),
                   Awaiting(key="alcohol"))[1]["missed"] == []


def test_whether_a_message_gets_a_recommendation_is_decided_by_the_rules(bot):
    from chatbot.knowledge.facts import Awaiting, Heard, Lines

    def recommends(*facts) -> bool:
        replies, _ = _decide(bot, Lines(areas=["forehead"], hints=["moves"], behaviours=["moves"]),
                             *facts)
        return any(r["intent"].startswith("recommend") for r in replies)

    assert recommends(Heard(recommendation=True))
    assert not recommends(Heard(recommendation=True, questions=True))
    assert not recommends(Heard(recommendation=True, business=True))
    assert recommends(Heard(line_behaviours=True, told=True, questions=True), Awaiting(key="lines_at_rest"))
    assert recommends(Heard(choosing=True, line_areas=True, told=True))
    assert not recommends(Heard(choosing=True, line_areas=True, questions=True))
    assert recommends(Heard(choosing=True, either=True))                # "botox or filler?"
    assert not recommends(Heard(choosing=True))                        # "botox and filler": a check
    assert not recommends(Heard(choosing=True, either=True, told=True))  # both planned: a check
    assert recommends(Heard(line_areas=True))
    assert not recommends(Heard(line_areas=True, told=True))
    assert not recommends(Heard())
