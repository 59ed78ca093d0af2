"""`python -m benchmarks [NAME...] [--markdown | --json]`: run the benchmarks, print the table.

Runs every `benchmarks/bench_*.py` (or only those named: `python -m benchmarks turn startup`),
prints each metric beside its floor, the ratio and the target, and the machine it ran on. Exit
status 1 when a target is missed or a benchmark of ours failed to run. The server benchmark is
written separately: when it is absent or fails, a row says so and the run goes on.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys
import time
import traceback

import benchmarks
from benchmarks import machine, row

TOLERATED = ("bench_server",)   # another module's benchmark: its absence or failure is only noted
ORDER = ("bench_turn", "bench_session", "bench_startup", "bench_growth", "bench_server")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="only these benchmarks (e.g. turn, session, startup, growth, server)")
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--markdown", action="store_true", help="the table in Markdown")
    shape.add_argument("--json", action="store_true", help="the machine and the rows as JSON")
    args = parser.parse_args(argv)

    found = [m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")]
    if args.names:
        wanted = [f"bench_{name.removeprefix('bench_')}" for name in args.names]
    else:
        wanted = sorted(set(found) | set(TOLERATED),
                        key=lambda name: (ORDER.index(name) if name in ORDER else len(ORDER), name))

    load = f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "unknown"
    rows = []
    started = time.perf_counter()
    for name in wanted:
        rows += _run(name, found)
    elapsed = time.perf_counter() - started

    host = {**machine(), "load": load}
    if args.json:
        print(json.dumps({"machine": host, "rows": rows, "seconds": round(elapsed, 1)}, indent=2))
    else:
        print(_markdown(rows, host) if args.markdown else _table(rows, host))
        print(f"\n{sum(r['ok'] is False for r in rows)} of {sum(r['ok'] is not None for r in rows)} "
              f"targets missed; {elapsed:.0f} s.")
    return 1 if any(r["ok"] is False for r in rows) else 0


def _run(name: str, found: list[str]) -> list[dict]:
    """The rows of one benchmark module; a failure becomes a row that says so."""
    tolerated = name in TOLERATED
    label = name.removeprefix("bench_")
    if name not in found:
        return [row(f"{label}: not measured", None, "", "", None if tolerated else False,
                    f"benchmarks/{name}.py is absent")]
    try:
        module = importlib.import_module(f"benchmarks.{name}")
        return list(module.bench())
    except Exception as error:   # one broken benchmark must not hide the others' results
        print(f"{name} failed:\n{traceback.format_exc()}", file=sys.stderr)
        return [row(f"{label}: not measured", None, "", "", None if tolerated else False,
                    f"{name} failed: {type(error).__name__}: {error}"[:200])]


def _cells(result: dict) -> list[str]:
    value, floor = result.get("value"), result.get("floor")
    unit = result.get("unit") or ""
    ratio = f"{value / floor:.2f}x" if _number(value) and _number(floor) and floor else "-"
    verdict = {True: "pass", False: "MISSED", None: "-"}[result.get("ok")]
    return [str(result["name"]), _quantity(value, unit), _quantity(floor, unit), ratio,
            str(result.get("target") or "-"), verdict]


def _number(value) -> bool:
    return isinstance(value, (int, float)) and value == value   # not None, not NaN


def _quantity(value, unit: str) -> str:
    if not _number(value):
        return "-"
    digits = 0 if abs(value) >= 100 or unit == "modules" else 1 if abs(value) >= 10 else 2 if abs(
        value) >= 0.1 else 4
    return f"{value:.{digits}f} {unit}".strip()


HEADINGS = ["metric", "value", "floor", "ratio", "target", "result"]


def _machine_line(host: dict) -> str:
    return (f"{host['cpu']}, {host['cores']} cores, {host['python']}, {host['system']}; "
            f"load average {host['load']} at the start")


def _table(rows: list[dict], host: dict) -> str:
    lines = [[*HEADINGS]] + [_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADINGS))]
    out = [f"Machine: {_machine_line(host)}", ""]
    for line in lines:
        out.append("  ".join(cell.ljust(width) if i in (0, 4, 5) else cell.rjust(width)
                             for i, (cell, width) in enumerate(zip(line, widths))).rstrip())
    shared: list[tuple[list[str], str]] = []   # consecutive rows with the same note share one line
    for result in rows:
        if not result.get("note"):
            continue
        if shared and shared[-1][1] == result["note"]:
            shared[-1][0].append(result["name"])
        else:
            shared.append(([result["name"]], result["note"]))
    notes = [f"- {'; '.join(names)}: {note}" for names, note in shared]
    return "\n".join(out + ([""] + notes if notes else []))


def _markdown(rows: list[dict], host: dict) -> str:
    out = [f"Machine: {_machine_line(host)}", "", "| " + " | ".join(HEADINGS) + " |",
           "|" + "|".join([":--", "--:", "--:", "--:", ":--", ":--"]) + "|"]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in _cells(r)) + " |" for r in rows]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
