"""Exit statuses and the error a command raises: shared by every front end, importing none of them.

A leaf module (as httpie's `status.py`): `cli`, `repl`, `server`, `evaluate` and the training
commands import it; it imports nothing of the project, so it can never close an import cycle.
"""
from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """What the process tells its caller; every command returns one."""

    OK = 0
    ERROR = 1           # the command could not do its work, or `eval` found a failing turn
    USAGE = 2           # a bad command line
    INTERRUPTED = 130   # Ctrl-C (128 + SIGINT), as shells report it
    BROKEN_PIPE = 141   # the reader left (`| head`): 128 + SIGPIPE, as for `yes | head`


class CommandError(Exception):
    """A command could not do its work (unreadable file, port in use...): one line, exit 1."""
