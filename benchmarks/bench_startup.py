"""Cold start of `python -m chatbot ask "..."`, against a process that only imports experta and jinja2.

Each command runs as a new process (the same interpreter, from an empty folder), interleaved with
the floor, after warm-up runs; the median wall time of each is compared. Bytecode caching is left
on (PYTHONDONTWRITEBYTECODE is removed from the children's environment), as for an installed
package, and so is the chatbot's cache folder (the saved engine, lexicon and data files): the
first `ask` after installing or changing the knowledge base makes them, and an informing row times
that first run too, each time in a new, empty cache folder. Also checked: `ask` imports neither the
terminal UI nor the server.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from benchmarks import median, row, seconds

RUNS = 21
WARM_UP = 2
TARGET = 1.3
QUESTION = "Can I drink wine before Botox?"
# `import experta` needs the collections.Mapping alias on Python >= 3.10 (see knowledge/_experta.py).
SHIM = "import collections, collections.abc; collections.Mapping = collections.abc.Mapping; "
FLOOR = [sys.executable, "-c", SHIM + "import experta, jinja2"]
ASK = [sys.executable, "-m", "chatbot", "ask", QUESTION]
# A question the phrases miss: its `ask` also loads the example ranker (and the stemmer).
ASK_RANKED = [sys.executable, "-m", "chatbot", "ask", "is botox covered by insurance"]
IMPORTS_ONLY = [sys.executable, "-c", "import chatbot.cli, chatbot.session"]
HEAVY = ("prompt_toolkit", "starlette", "uvicorn", "yaml", "chatbot.server", "chatbot.repl")
HEAVY_PROBE = [sys.executable, "-c",
               "import sys\nfrom chatbot.cli import main\nmain(['ask', 'hello'])\n"
               f"print('loaded:' + ','.join(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} "
               f"or m in {HEAVY!r}))"]


def bench() -> list[dict]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["CHATBOT_TODAY"] = "2026-11-27"
    with tempfile.TemporaryDirectory() as folder:
        def run(command):
            return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                                  timeout=60)

        for command in (FLOOR, ASK, IMPORTS_ONLY, ASK_RANKED):
            for _ in range(WARM_UP):
                done = run(command)
                if done.returncode != 0:
                    raise RuntimeError(f"{' '.join(command[1:])} failed: {done.stderr.strip()[-300:]}")
        times: dict[str, list[float]] = {"floor": [], "ask": [], "imports": [], "first": [], "ranked": []}
        for number in range(RUNS):
            times["floor"].append(seconds(lambda: run(FLOOR)))
            times["ask"].append(seconds(lambda: run(ASK)))
            times["imports"].append(seconds(lambda: run(IMPORTS_ONLY)))
            times["ranked"].append(seconds(lambda: run(ASK_RANKED)))
            first = dict(env, CHATBOT_CACHE_DIR=os.path.join(folder, f"empty-{number}"))
            times["first"].append(seconds(lambda first=first: subprocess.run(
                ASK, cwd=folder, env=first, capture_output=True, timeout=60)))
        probe = run(HEAVY_PROBE).stdout.strip().splitlines()
    floor, ask, imports, first, ranked = (median(times[name]) * 1e3
                                          for name in ("floor", "ask", "imports", "first", "ranked"))
    marked = [line for line in probe if line.startswith("loaded:")]
    if not marked:
        raise RuntimeError("the import probe printed nothing")
    loaded = marked[-1][len("loaded:"):]
    return [
        row("cold start: ask", ask, "ms", f"<= {TARGET:g}x floor", ask <= TARGET * floor,
            f"median of {RUNS} runs each; floor: python -c 'import experta, jinja2' (with the shim)",
            floor=floor),
        row("cold start: ask read by the example ranker", ranked, "ms", "(informs)", None,
            "a question the phrases miss: also loads the saved ranker and the Snowball stemmer",
            floor=floor),
        row("cold start: first ask, empty cache folder", first, "ms", "(informs)", None,
            "builds the engine and parses the data files, then saves them for the next ask", floor=floor),
        row("cold start: imports only", imports, "ms", "(informs)", None,
            "python -c 'import chatbot.cli, chatbot.session': no engine built, no turn", floor=floor),
        row("ask imports the UI or server", len(loaded.split(",")) if loaded else 0, "modules", "none",
            not loaded, loaded[:80] or "prompt_toolkit, starlette, uvicorn, yaml: none loaded"),
    ]
