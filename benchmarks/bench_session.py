"""A new session: how long it takes to open, and how much memory an idle one holds.

Time: `Chatbot.session()` in batches (the clock's resolution is far below one call), median of
the batches; the floor is building the same empty state by hand (three dicts and a lock).
Memory (tracemalloc): the growth of traced memory per session with many sessions kept alive, once
freshly opened and once after each played the benchmark conversation (an idle session between two
turns, what a server holds for each person). Caches are warmed first, so they are not counted, and
the played sessions are measured against a control run that plays the same and keeps nothing.
"""
from __future__ import annotations

import gc
import threading
import tracemalloc

from benchmarks import CONVERSATION, TODAY, median, row, seconds

BATCH = 200
BATCHES = 25
KEPT_FRESH = 1000
KEPT_TALKED = 15
TIME_TARGET_MS = 1.0
MEMORY_TARGET_KB = 20.0
WARM_UP = 10   # conversations; fewer leave the engine's own dicts still growing (~200 KB once)


def bench() -> list[dict]:
    from chatbot import Chatbot
    bot = Chatbot(today=lambda: TODAY)
    for _ in range(WARM_UP):   # warm caches and the pooled engine's tables before counting memory
        _play(bot.session())

    opened, floor = [], []
    for _ in range(BATCHES):
        opened.append(seconds(lambda: [bot.session() for _ in range(BATCH)]) / BATCH)
        floor.append(seconds(lambda: [_bare_state() for _ in range(BATCH)]) / BATCH)
    open_ms, floor_ms = median(opened) * 1e3, median(floor) * 1e3

    fresh = _bytes_per_session(lambda: bot.session(), KEPT_FRESH)
    # The pooled engine's own working memory moves during a turn too: subtract a control run whose
    # sessions are played the same way but dropped.
    talked = (_bytes_per_session(lambda: _play(bot.session()), KEPT_TALKED)
              - _bytes_per_session(lambda: _play(bot.session()) and None, KEPT_TALKED))
    return [
        row("new session", open_ms, "ms", f"<= {TIME_TARGET_MS:g} ms", open_ms <= TIME_TARGET_MS,
            f"median of {BATCHES} batches of {BATCH}; floor: the empty state and a lock by hand",
            floor=floor_ms),
        row("memory per idle session, new", fresh / 1024, "KB", f"<= {MEMORY_TARGET_KB:g} KB",
            fresh / 1024 <= MEMORY_TARGET_KB, f"tracemalloc, {KEPT_FRESH} sessions kept"),
        row("memory per idle session, after a conversation", talked / 1024, "KB",
            f"<= {MEMORY_TARGET_KB:g} KB", talked / 1024 <= MEMORY_TARGET_KB,
            f"tracemalloc, {KEPT_TALKED} sessions kept, each after the {len(CONVERSATION)} messages, "
            "minus the same played and dropped"),
    ]


def _bare_state():
    return {"facts": {}, "context": {}, "lines": {}}, threading.Lock()


def _play(session):
    for message in CONVERSATION:
        session.ask(message)
    return session


def _bytes_per_session(make, count: int) -> float:
    """Traced memory growth per object made by `make`, with all of them kept alive."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [make() for _ in range(count)]
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return (after - before) / count
