"""Where the chatbot keeps what it can make again: compiled templates and the built engine.

In `$CHATBOT_CACHE_DIR/<kind>`, else in the user's cache folder (`$XDG_CACHE_HOME`, else
`~/.cache`) under `botox-filler-chatbot/<kind>`. None when the folder cannot be made or written:
then nothing is kept and everything is made afresh, only more slowly.
"""
from __future__ import annotations

import os


def folder(kind: str) -> str | None:
    base = os.environ.get("CHATBOT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "botox-filler-chatbot")
    path = os.path.join(base, kind)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None
