"""Growth: turn time with a knowledge base ten times larger.

The larger engine subclasses the real one (`Expert`) with a second DefFacts that adds synthetic
ArticleFact and Coverage facts (on topics of their own, so no answer changes) until each of the
two kinds is ten times as numerous. Both chatbots play the benchmark conversation, interleaved;
the ratio of their median turn times is the growth.
"""
from __future__ import annotations

import contextlib
import os
import tempfile

from benchmarks import CONVERSATION, TODAY, median, row, seconds
from chatbot.knowledge._experta import DefFacts
from chatbot.knowledge.facts import ArticleFact, Coverage
from chatbot.knowledge.rules import Expert

FACTOR = 10
REPEATS = 25
TARGET = 2.0


def larger_expert(factor: int = FACTOR) -> type:
    """`Expert` with (factor - 1) times its ArticleFact and Coverage facts added, synthetic."""
    probe = Expert()
    probe.reset()
    articles = sum(isinstance(f, ArticleFact) for f in probe.facts.values())
    coverages = sum(isinstance(f, Coverage) for f in probe.facts.values())

    class LargerExpert(Expert):
        @DefFacts()
        def synthetic(self):
            """Synthetic facts and coverage on made-up topics: only the size changes."""
            for number in range(articles * (factor - 1)):
                yield ArticleFact(id=f"SYN-{number}", line=str(number), treatment="botox",
                                  topic=f"synthetic_{number % 50}", text=f"Synthetic fact {number}.")
            for number in range(coverages * (factor - 1)):
                yield Coverage(topic=f"synthetic_{number}", treatment=("botox", "fillers")[number % 2],
                               sources=[f"SYN-{number % max(articles, 1)}"],
                               precaution=number % 3 == 0, contraindication=number % 7 == 0)

    LargerExpert.counts = {"ArticleFact": articles, "Coverage": coverages}
    return LargerExpert


@contextlib.contextmanager
def _engine(kind: type):
    """Chatbots built inside use `kind` for their engines (Chatbot has no engine parameter), built,
    not loaded from the cache folder (where the real engine is kept)."""
    from chatbot.knowledge import snapshot
    real, folder = snapshot.Expert, os.environ.get("CHATBOT_CACHE_DIR")
    snapshot.Expert = kind
    with tempfile.TemporaryDirectory() as empty:
        os.environ["CHATBOT_CACHE_DIR"] = empty
        try:
            yield
        finally:
            snapshot.Expert = real
            if folder is None:
                del os.environ["CHATBOT_CACHE_DIR"]
            else:
                os.environ["CHATBOT_CACHE_DIR"] = folder


def bench() -> list[dict]:
    from chatbot import Chatbot
    normal = Chatbot(today=lambda: TODAY)
    larger = larger_expert()
    with _engine(larger):
        grown = Chatbot(today=lambda: TODAY)
        return _measure(normal, grown, larger)


def _measure(normal, grown, larger: type) -> list[dict]:
    sizes = []
    for bot in (grown, normal):   # peek at each pooled engine (and put it back)
        engine, mark = bot._pool.borrow()
        sizes.append(len(engine.facts))
        bot._pool.give_back(engine, mark)
        assert (type(engine) is larger) == (bot is grown), "the grown chatbot runs the larger engine"

    times: dict[str, list[float]] = {"normal": [], "grown": []}
    for _ in range(REPEATS):   # interleaved, so drift hits both alike
        for name, bot in (("normal", normal), ("grown", grown)):
            session = bot.session()
            for message in CONVERSATION:
                times[name].append(seconds(lambda message=message, session=session: session.ask(message)))
    grown_ms, normal_ms = median(times["grown"]) * 1e3, median(times["normal"]) * 1e3
    return [row(f"turn p50, knowledge base x{FACTOR}", grown_ms, "ms", f"< {TARGET:g}x floor",
                grown_ms < TARGET * normal_ms,
                f"{sizes[0]} facts in working memory against {sizes[1]}; floor: the real knowledge base",
                floor=normal_ms)]
