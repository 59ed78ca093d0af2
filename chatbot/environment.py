"""The program's surroundings in one replaceable object: streams, colour, and today's date."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from datetime import date
from typing import TextIO

APP_NAME = "botox-filler-chatbot"


def today_from_env(environ=os.environ) -> date:
    """Today, or the date pinned by CHATBOT_TODAY=YYYY-MM-DD (for tests and demos)."""
    pinned = environ.get("CHATBOT_TODAY", "").strip()
    if pinned:
        try:
            return date.fromisoformat(pinned)
        except ValueError:
            raise ValueError(f"CHATBOT_TODAY must be a date like 2026-12-04, not {pinned!r}") from None
    return date.today()


@dataclass
class Environment:
    """Where input comes from and output goes; tests build one with StringIO streams."""

    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    environ: dict = field(default_factory=lambda: dict(os.environ))

    @property
    def stdin_is_terminal(self) -> bool:
        return hasattr(self.stdin, "isatty") and self.stdin.isatty()

    @property
    def colour(self) -> bool:
        """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
        return (not self.environ.get("NO_COLOR") and hasattr(self.stdout, "isatty")
                and self.stdout.isatty())

    def today(self) -> date:
        return today_from_env(self.environ)

    def write(self, text: str = "") -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def error(self, text: str) -> None:
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def discard_output(self) -> None:
        """After the reader of stdout has gone (`chatbot kb | head`): send what is still buffered,
        and anything written later, to the null device, so that the flush at exit cannot fail with
        a "Broken pipe" message. A stream that is not a file (a test's StringIO) is left alone."""
        try:
            descriptor = self.stdout.fileno()
        except (AttributeError, OSError, ValueError):
            return
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, descriptor)
        finally:
            os.close(null)

    def data_folder(self) -> str:
        """Where files kept for the person go (chat history, training records):
        $CHATBOT_DATA_DIR, else the user data folder (e.g. ~/.local/share/botox-filler-chatbot)."""
        folder = self.environ.get("CHATBOT_DATA_DIR", "").strip()
        if folder:
            return folder
        from platformdirs import user_data_dir
        return user_data_dir(APP_NAME, appauthor=False)
