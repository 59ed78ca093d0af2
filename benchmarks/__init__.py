"""Benchmarks, run by `make bench` (`python -m benchmarks`), never by `make test`.

Each module `bench_*.py` exposes `bench() -> list[dict]`, one row per metric:

    {"name": str, "value": float, "unit": str, "target": str, "ok": bool | None, "note": str,
     "floor": float | None}   # optional: the same quantity for the floor, in the same unit

`ok` is None for a row that only informs. Absolute times drift on a shared machine, so each time
is compared with a floor measured in the same run, and repeats are summarised by their median.
"""
from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import date

# The sentences a benchmark conversation is made of: questions, facts told, a screening, a
# recommendation, "why?", small talk and a miss, so the rules of every part get their share.
CONVERSATION = (
    "Hi there",
    "Can I drink wine before Botox?",
    "I'm getting fillers next Friday",
    "I take Advil and fish oil",
    "I'm not pregnant",
    "no",
    "why?",
    "my frown lines show when I frown",
    "how long does botox last?",
    "is Juvederm safe while breastfeeding?",
    "what's the weather like?",
    "thanks",
)
TODAY = date(2026, 11, 27)


def row(name: str, value: float | None, unit: str, target: str, ok: bool | None, note: str = "",
        floor: float | None = None) -> dict:
    """One result row (see the module docstring)."""
    return {"name": name, "value": value, "unit": unit, "target": target, "ok": ok, "note": note,
            "floor": floor}


def median(values) -> float:
    return statistics.median(values)


def percentile(values, fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5)) - 1
    return ordered[min(rank, len(ordered) - 1)]


def seconds(action: Callable[[], object]) -> float:
    """How long one call of `action` takes, in seconds."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def machine() -> dict:
    """The CPU model, the cores this process may use, and the Python version."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        cores = os.cpu_count() or 0
    return {"cpu": model, "cores": cores,
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "system": f"{platform.system()} {platform.release()}"}
