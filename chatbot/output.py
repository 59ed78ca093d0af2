"""Writing a command's document (handout, question bank, records) to stdout or to `-o FILE`."""
from __future__ import annotations

import os


def deliver(env, text: str, path: str | None, what: str, newline: str | None = None) -> bool:
    """Write `text` to `path`, or to the environment's stdout when there is none. True when a file
    was written. A folder or an unwritable path is an OSError with one clear sentence naming
    `what` was being written ("the handout", "the questions")."""
    if not path:
        env.stdout.write(text)
        env.stdout.flush()
        return False
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write {what} to {path}: it is a folder")
    try:
        with open(path, "w", encoding="utf-8", newline=newline) as handle:
            handle.write(text)
    except OSError as error:
        raise OSError(f"cannot write {what} to {path}: {error.strerror or error}") from None
    return True
