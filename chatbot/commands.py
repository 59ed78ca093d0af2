"""Slash commands shared by the terminal chat and piped input: /help /facts /why /forget /reset /quit."""
from __future__ import annotations

from dataclasses import dataclass

COMMANDS = {
    "/help": "what I can do",
    "/facts": "what I know about you",
    "/why": "the reasoning and sources of my last answer",
    "/forget": "drop one fact, e.g. /forget pregnancy",
    "/reset": "start over",
    "/quit": "leave (Ctrl-D works too)",
}
# Commands that are really questions: sent to the chatbot as these words.
_AS_QUESTION = {"/help": "help", "/facts": "what do you know about me", "/why": "why?"}


@dataclass
class Outcome:
    """What a line of input led to: a Reply, a line of text, or the end of the conversation."""

    reply: object = None
    text: str = ""
    quit: bool = False


def handle(session, line: str) -> Outcome:
    """Run one line: a slash command, or a message for the chatbot."""
    stripped = line.strip()
    if not stripped.startswith("/"):
        return Outcome(reply=session.ask(line))
    name, _, rest = stripped.partition(" ")
    name = name.lower()
    if name in ("/quit", "/exit", "/q"):
        return Outcome(quit=True)
    if name in _AS_QUESTION:
        return Outcome(reply=session.ask(_AS_QUESTION[name]))
    if name == "/reset":
        session.reset()
        return Outcome(text="Starting over: I've forgotten everything you told me.")
    if name == "/forget":
        what = rest.strip().lower()
        if not what:
            return Outcome(text="Forget what? For example: /forget pregnancy")
        if session.forget(what.replace(" ", "_")):
            return Outcome(text=f"Done: I've forgotten {what}.")
        return Outcome(text=f"I had nothing stored about {what}. Type /facts to see what I know.")
    known = ", ".join(COMMANDS)
    return Outcome(text=f"Unknown command {name}. Commands: {known}.")
