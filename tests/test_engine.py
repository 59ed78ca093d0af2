"""knowledge/engine.py routes facts faster through experta's Rete; what matches must not change.

Each test runs the same work on our matcher and on stock experta's, and compares what comes out.
"""
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot import conversations
from chatbot.knowledge._experta import AS, NOT, TEST, Fact, Field, InitialFact, KnowledgeEngine, L, Rule, W
from chatbot.knowledge.engine import Engine
from chatbot.knowledge.rules import Expert

TODAY = date(2026, 11, 27)   # pinned: no test depends on the real date

FOLDER = Path(__file__).parent / "conversations"


class Stock:
    """Mixed in first, it gives an engine class stock experta's matcher back."""

    from experta.matchers import ReteMatcher as __matcher__


class StockExpert(Stock, Expert):
    pass


def test_every_conversation_gets_the_same_replies_as_on_stock_experta(monkeypatch, tmp_path):
    from chatbot import Chatbot
    from chatbot.knowledge import snapshot
    assert Expert.__matcher__ is not KnowledgeEngine.__matcher__
    played = {}
    for label, engine_class in (("ours", Expert), ("stock", StockExpert)):
        monkeypatch.setattr(snapshot, "Expert", engine_class)
        monkeypatch.setenv("CHATBOT_CACHE_DIR", str(tmp_path / label))   # built, not loaded
        bots = {}

        def bot_for(day, bots=bots):
            if day not in bots:
                bots[day] = Chatbot(today=lambda: day or TODAY)
            return bots[day]
        played[label] = [[result.reply for result in conversations.run(conversation, bot_for)]
                         for conversation in conversations.load([FOLDER])]
        engine, _ = next(iter(bots.values()))._pool.borrow()
        assert type(engine.matcher) is engine_class.__matcher__
    assert sum(map(len, played["ours"])) > 400
    for ours, stock in zip(played["ours"], played["stock"], strict=True):
        assert ours == stock


# -- a small rule set with every kind of test the routing treats differently ---------------------
class Item(Fact):
    kind = Field(str, default="plain")


class Other(Fact):
    pass


class Rules:
    @Rule(Item(kind="a"))
    def kind_a(self):
        pass

    @Rule(Item(kind="b", size=1))
    def kind_b_size_1(self):
        pass

    @Rule(Item(kind="b", size=True))   # 1 == True: the lookup must agree with ==
    def kind_b_size_true(self):
        pass

    @Rule(Item(kind="plain"))          # matched through the field's default
    def default_kind(self):
        pass

    @Rule(Item(kind=~L("a"), size=W("size")), Other(size=W("size")))
    def not_a_joined_by_size(self, size):
        pass

    @Rule(AS.item << Item(kind=W("kind")), NOT(Other(kind=W("kind"))))
    def kind_without_other(self, item, kind):
        pass

    @Rule(Item(size=W("size")), TEST(lambda size: isinstance(size, int) and size > 1))
    def big(self, size):
        pass

    @Rule(Other(kind=L("a") | L("b")))
    def other_a_or_b(self):
        pass

    @Rule(Other(tags=W()))
    def other_with_tags(self):
        pass


class Ours(Rules, Engine):
    pass


class StockRules(Stock, Rules, KnowledgeEngine):
    pass


values = st.one_of(st.sampled_from(["a", "b", "c", "plain", 0, 1, 2, True, False, None]),
                   st.lists(st.sampled_from(["a", 1]), max_size=2).map(tuple))
fields = st.dictionaries(st.sampled_from(["kind", "size", "tags"]), values, max_size=3)
steps = st.lists(st.one_of(
    st.tuples(st.just("declare"), st.sampled_from([Item, Other]), fields),
    st.tuples(st.just("retract"), st.integers(0, 20), st.none())), max_size=25)


def _agenda(engine) -> list:
    return [(activation.rule.__name__, sorted(f["__factid__"] for f in activation.facts),
             sorted((k, repr(v)) for k, v in activation.context.items() if not k.startswith("__")))
            for activation in engine.agenda.activations]


@settings(max_examples=150, deadline=None)
@given(steps)
def test_random_changes_give_stock_experta_s_agenda(script):
    engines = [Ours(), StockRules()]
    for engine in engines:
        engine.reset()
    for action, what, data in script:
        for engine in engines:
            if action == "declare":
                kind = "kind" in data and not isinstance(data["kind"], str)
                try:
                    engine.declare(what(**data))
                except ValueError:     # a non-str `kind` fails the Field's validation, alike
                    assert kind
            else:
                ids = sorted(index for index, fact in engine.facts.items() if type(fact) is not InitialFact)
                if ids:
                    engine.facts.retract(ids[what % len(ids)])
                    engine.strategy.update_agenda(engine.agenda, *engine.get_activations())
        assert _agenda(engines[0]) == _agenda(engines[1])


@pytest.mark.parametrize("batched", [False, True])
def test_retract_all_is_retracting_one_by_one(batched):
    engine = Ours()
    engine.reset()
    engine.declare(Item(kind="a"), Item(kind="b", size=1), Other(size=1))
    assert {a.rule.__name__ for a in engine.agenda.activations} >= {"kind_a", "kind_b_size_1"}
    indexes = [index for index, fact in engine.facts.items() if not type(fact).__name__ == "InitialFact"]
    if batched:
        engine.retract_all(indexes)
    else:
        for index in indexes:
            engine.retract(index)
    assert [a.rule.__name__ for a in engine.agenda.activations] == []
