"""Text for a terminal: what a person or a file wrote is shown, never executed.

A leaf module: the front ends (`cli`, `repl`, `evaluate`, `records`) import it, it imports
nothing of the project.
"""
from __future__ import annotations


def safe(text: str) -> str:
    """Text with its control characters (escape sequences, bells, C1 codes) replaced by U+FFFD;
    newlines and tabs are kept."""
    return "".join(ch if ch in "\n\t" or ch.isprintable() else "\ufffd" for ch in text)


def safe_line(text: str) -> str:
    """`safe`, and on one line: newlines and tabs are replaced too (a name in a table row)."""
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in text)


def sources_line(sources: list[str]) -> str:
    """The one line that ends an answer on a screen: "Sources: BTX-ALCOHOL, BTX-MEDS"."""
    return f"Sources: {', '.join(sources)}"
