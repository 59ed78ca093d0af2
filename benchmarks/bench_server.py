"""Benchmark: the HTTP API under 16 concurrent clients: turns per second, p50 and p99 latency.

Method: start `python -m chatbot serve` (uvicorn, a free port on 127.0.0.1, a fresh SQLite file in a
temporary folder), wait for /healthz, then run 16 clients at once (asyncio tasks, each with its own
session, each sending its next message as soon as the last was answered: a closed loop). Every
client sends the same realistic script of messages, over and over, for TURNS_PER_CLIENT turns or
until TIME_LIMIT seconds, whichever comes first; a few warm-up turns per client are not counted.
Latency is the client-side time from sending a message to having read its answer; turns per second
is answered turns over the wall time of the measured part. The server is then stopped (its whole
process group). Runs once with 1 worker and once with 2 (`--workers 2`).

    python -m benchmarks.bench_server
"""
from __future__ import annotations

import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

CLIENTS = 16
TURNS_PER_CLIENT = 60
WARMUP_TURNS = 3
TIME_LIMIT = 60.0          # seconds of measuring, at most, per server
START_TIMEOUT = 60.0
SCRIPT = [
    "hello",
    "How long does Botox take?",
    "I'm booked for fillers on 2026-12-04",
    "no",
    "no",
    "I take Advil",
    "why?",
    "Can I drink alcohol before Botox?",
    "which comes first, Botox or fillers?",
    "what do you know about me",
    "/reset",
]
# A desk with 16 people chatting at once sees a few turns a second; an answer within a second
# feels immediate. The targets leave room for a slower machine than the one measured.
TARGETS = {"turns_per_second": 50.0, "p50_ms": 250.0, "p99_ms": 1000.0}


def bench() -> list[dict]:
    """Rows for `make bench`: throughput and latency with 1 and with 2 worker processes."""
    rows = []
    for workers in (1, 2):
        busy = os.getloadavg()[0]   # other work on the machine skews the numbers: say how much
        result = measure(workers)
        label = f"{workers} worker{'s' if workers > 1 else ''}, {CLIENTS} clients"
        note = (f"{result['turns']} turns in {result['seconds']:.1f}s, {result['errors']} errors; the "
                f"clients took {result['client_cpu']:.1f} CPU-s of the same {os.cpu_count()} cores; "
                f"load average {busy:.1f} before; {platform.python_implementation()} "
                f"{platform.python_version()}")
        rows += [
            _row(f"server turns/s ({label})", result["turns_per_second"], "turns/s",
                 f">= {TARGETS['turns_per_second']:g}",
                 result["turns_per_second"] >= TARGETS["turns_per_second"], note),
            _row(f"server p50 latency ({label})", result["p50_ms"], "ms", f"<= {TARGETS['p50_ms']:g}",
                 result["p50_ms"] <= TARGETS["p50_ms"], note),
            _row(f"server p99 latency ({label})", result["p99_ms"], "ms", f"<= {TARGETS['p99_ms']:g}",
                 result["p99_ms"] <= TARGETS["p99_ms"], note),
        ]
    return rows


def _row(name, value, unit, target, ok, note) -> dict:
    return {"name": name, "value": round(value, 1), "unit": unit, "target": target, "ok": ok, "note": note}


def measure(workers: int) -> dict:
    """Start a server with `workers` processes, load it, stop it; return the numbers."""
    with tempfile.TemporaryDirectory(prefix="bench-server-") as folder:
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "chatbot", "serve", "--port", str(port), "--workers", str(workers),
             "--db", os.path.join(folder, "sessions.sqlite3")],
            cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "CHATBOT_TODAY": "2026-11-27"}, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_up(url, process)
            return asyncio.run(_load(url))
        finally:
            _stop(process)


async def _load(url: str) -> dict:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        warmed: list[int] = []
        all_warm, start, deadline = asyncio.Event(), asyncio.Event(), [float("inf")]

        async def client(number: int) -> None:
            nonlocal errors
            session_id = (await http.post("/v1/sessions", json={})).json()["id"]
            for turn in range(WARMUP_TURNS + TURNS_PER_CLIENT):
                if turn == WARMUP_TURNS:
                    warmed.append(number)
                    if len(warmed) == CLIENTS:
                        all_warm.set()
                    await start.wait()
                elif turn > WARMUP_TURNS and time.perf_counter() > deadline[0]:
                    return
                text = SCRIPT[(number + turn) % len(SCRIPT)]
                began = time.perf_counter()
                response = await http.post(f"/v1/sessions/{session_id}/messages", json={"text": text})
                took = time.perf_counter() - began
                if response.status_code != 200:
                    errors += 1
                elif turn >= WARMUP_TURNS:
                    latencies.append(took)

        tasks = [asyncio.create_task(client(n)) for n in range(CLIENTS)]
        await asyncio.wait_for(all_warm.wait(), timeout=START_TIMEOUT)   # measured turns start together
        began, client_cpu = time.perf_counter(), time.process_time()
        deadline[0] = began + TIME_LIMIT
        start.set()
        await asyncio.gather(*tasks)
        seconds, client_cpu = time.perf_counter() - began, time.process_time() - client_cpu
    ordered = sorted(latencies)
    return {"turns": len(ordered), "seconds": seconds, "errors": errors, "client_cpu": client_cpu,
            "turns_per_second": len(ordered) / seconds,
            "p50_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer within {START_TIMEOUT:g}s")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the whole group (uvicorn's workers too), SIGKILL if it lingers."""
    for how, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, how)
            process.wait(timeout=wait)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            continue
    try:   # workers outliving their supervisor would hold the port
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


if __name__ == "__main__":
    for row in bench():
        print(json.dumps(row))
