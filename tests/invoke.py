"""The one invoker of the command line for tests: run it in-process, get stdout, stderr, status."""
from __future__ import annotations

import io
from dataclasses import dataclass

from chatbot.cli import main
from chatbot.environment import Environment

TODAY = "2026-11-27"


@dataclass
class Result:
    stdout: str
    stderr: str
    status: int


def chatbot(*args, stdin: str = "", expect_status: int = 0, environ: dict | None = None) -> Result:
    """Run `python -m chatbot ARGS` in-process with `stdin`; fail loudly on an unexpected exit
    status. "Today" is pinned (CHATBOT_TODAY) unless `environ` says otherwise."""
    env = Environment(stdin=io.StringIO(stdin), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ={"CHATBOT_TODAY": TODAY, **(environ or {})})
    status = main(list(args), env)
    result = Result(env.stdout.getvalue(), env.stderr.getvalue(), status)
    assert status == expect_status, f"exit {status}, stderr: {result.stderr!r}"
    return result
