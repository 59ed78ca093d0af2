"""Turn latency in-process, against experta's own floor.

The turn is `Session.ask` (understanding, the rules, rendering) over a scripted conversation in a
fresh session, repeated. The floor is a bare, stock experta KnowledgeEngine with as many rules, each
trivial (one pattern with one literal test), over the same starting facts (the article's DefFacts),
fed the very facts our turns declared, the way Chatbot.run feeds them: one declare of them all, one
run, the same retracts with one agenda update. So the ratio is what our understanding, rendering and
rule joins cost on top of what stock experta charges for moving those facts through a network of
that size.

Our engine runs on `knowledge/engine.py`'s matcher (facts routed by type, only reached rules asked),
which the stock floor has not. So a second, informing row measures the same trivial rules on that
matcher too: the ratio against it is the cost of our joins, understanding and rendering alone.
"""
from __future__ import annotations

import time

from benchmarks import CONVERSATION, TODAY, median, percentile, row, seconds
from chatbot.knowledge import inventory
from chatbot.knowledge._experta import NOT, KnowledgeEngine, Rule
from chatbot.knowledge.engine import Engine
from chatbot.knowledge.facts import Focus, Mentioned, Move, Question, ReplyPart, Screening, Told
from chatbot.knowledge.rules import Expert

REPEATS = 40
TARGET = 1.5


def bench() -> list[dict]:
    from chatbot import Chatbot
    bot = Chatbot(today=lambda: TODAY)
    turns = _declared_per_turn(bot)
    rule_count = len(Expert().get_rules())
    floor = _FloorTurn(rule_count, KnowledgeEngine)
    same_matcher = _FloorTurn(rule_count, Engine)

    asked, floored, matched, engine_only = [], [], [], []
    real_run = bot.run

    def timed_run(facts):
        start = time.perf_counter()
        try:
            return real_run(facts)
        finally:
            engine_only.append(time.perf_counter() - start)

    bot.run = timed_run
    for _ in range(REPEATS):   # interleaved, so drift on a shared machine hits both alike
        session = bot.session()
        for message in CONVERSATION:
            asked.append(seconds(lambda message=message, session=session: session.ask(message)))
        for facts in turns:
            fresh = [fact.copy() for fact in facts]
            floored.append(seconds(lambda fresh=fresh: floor.turn(fresh)))
            fresh = [fact.copy() for fact in facts]
            matched.append(seconds(lambda fresh=fresh: same_matcher.turn(fresh)))
    del bot.run

    note = (f"{len(CONVERSATION)}-message conversation x {REPEATS}; floor: bare engine, {rule_count} "
            f"one-pattern rules, same {sum(map(len, turns))} declares per conversation")
    rows = []
    for label, fraction in (("p50", 0.5), ("p99", 0.99)):
        value, base = percentile(asked, fraction) * 1e3, percentile(floored, fraction) * 1e3
        rows.append(row(f"turn latency {label}", value, "ms", f"<= {TARGET}x floor",
                        value <= TARGET * base, note if label == "p50" else "", floor=base))
    engine = median(engine_only) * 1e3
    rows.append(row("turn p50, rules engine part only", engine, "ms", "(informs)", None,
                    "declare + run + collect + retract inside Chatbot.run", floor=median(floored) * 1e3))
    rows.append(row("turn p50, floor on our matcher too", median(asked) * 1e3, "ms", "(informs)", None,
                    "the same trivial rules on knowledge/engine.py's matcher", floor=median(matched) * 1e3))
    ranked = []
    for _ in range(REPEATS):
        for message in RANKED:
            session = bot.session()
            ranked.append(seconds(lambda message=message, session=session: session.ask(message)))
    rows.append(row("turn p50, read by the example ranker", median(ranked) * 1e3, "ms", "(informs)", None,
                    f"{len(RANKED)} messages the phrases miss (asked back, or a topic proposed); floor: "
                    "the conversation's turns", floor=median(asked) * 1e3))
    return rows


# Messages the lexicon's phrases do not read: the example ranker scores them.
RANKED = ("how many sessions will i need", "is botox covered by insurance", "botox zebra stripes",
          "what is botox for my wedding")


def _declared_per_turn(bot) -> list[list]:
    """The facts each turn of the conversation declares (copied before the engine sees them)."""
    captured: list[list] = []
    real_run = bot.run

    def capture(facts):
        captured.append([fact.copy() for fact in facts])
        return real_run(facts)

    bot.run = capture
    session = bot.session()
    for message in CONVERSATION:
        session.ask(message)
    del bot.run
    return captured


def _literals() -> list[tuple[type, str, str]]:
    """(fact type, field, value) tests over the kinds of fact a turn declares, values that occur."""
    topics = sorted(inventory.topics())
    told = ("treatment", "appointment_date", "medicines", "supplements", "skincare", "pregnant",
            "breastfeeding", "allergic", "blood_thinners", "alcohol", "hair_removal", "lines")
    moves = ("greeting", "thanks", "bye", "help", "why", "facts", "business", "diagnosis", "urgent",
             "changed", "recommend_now", "date_problem", "too_long", "empty")
    return ([(Move, "name", name) for name in moves] + [(Told, "key", key) for key in told]
            + [(Focus, "treatment", t) for t in ("botox", "fillers")]
            + [(Screening, "treatment", t) for t in ("botox", "fillers")]
            + [(Mentioned, "kind", k) for k in ("medicine", "supplement", "skincare", "brand")]
            + [(Question, "topic", topic) for topic in topics])


def _trivial_rule(index: int, kind: type, field: str, value: str):
    @Rule(kind(**{field: value}))
    def trivial(self):
        self.declare(ReplyPart(template="floor", intent=value, scope="answered", rule=f"trivial_{index}"))
    return trivial


def _floor_engine(rule_count: int, base: type) -> type:
    """A `base` engine class with the article's DefFacts and `rule_count` trivial rules."""
    literals = _literals()
    if len(literals) < rule_count - 1:   # pragma: no cover - only if the knowledge base shrinks a lot
        literals *= rule_count // len(literals) + 1
    namespace = {"article": Expert.article}
    for index, (kind, field, value) in enumerate(literals[: rule_count - 1]):
        namespace[f"trivial_{index}"] = _trivial_rule(index, kind, field, value)

    @Rule(NOT(ReplyPart()), salience=-100)
    def fallback(self):
        self.declare(ReplyPart(template="floor", intent="none", scope="out_of_scope", rule="fallback"))
    namespace["fallback"] = fallback
    return type("FloorEngine", (base,), namespace)


class _FloorTurn:
    """One turn on the floor engine, done the way Chatbot.run does it: declare, run, collect, retract."""

    def __init__(self, rule_count: int, base: type):
        self.engine = _floor_engine(rule_count, base)()
        self.engine.reset()
        assert len(self.engine.get_rules()) == rule_count
        self.mark = max(self.engine.facts.keys())

    def turn(self, facts: list) -> list:
        engine, mark = self.engine, self.mark
        engine.declare(*facts)
        engine.run()
        replies = [f for index, f in engine.facts.items() if index > mark and isinstance(f, ReplyPart)]
        for index in [index for index in engine.facts.keys() if index > mark]:
            engine.facts.retract(index)   # what Engine.retract_all does, on stock experta
        engine.strategy.update_agenda(engine.agenda, *engine.get_activations())
        return replies
