"""Slash commands shared by every front end: /help /facts /why /forget /reset /quit.

`handle(session, line)` runs one line of input. A command's answer is a Reply like any other
(intent "command"), worded by the template responses/command.j2, so the terminal, piped input
and the HTTP API all show the same thing.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

COMMANDS = {
    "/help": "what I can do",
    "/facts": "what I know about you",
    "/why": "the reasoning and sources of my last answer",
    "/forget": "drop one fact, e.g. /forget pregnancy",
    "/reset": "start over",
    "/quit": "leave (Ctrl-D works too)",
}
# Things people type that mean /reset.
_SAID_AS_RESET = {"forget everything", "forget all that", "start over", "start again", "reset",
                  "clear everything", "delete my data", "forget me"}
# Commands that are really questions: sent to the chatbot as these words.
_AS_QUESTION = {"/help": "help", "/facts": "what do you know about me", "/why": "why?"}


@dataclass
class Outcome:
    """What a line of input led to: a Reply, or the end of the conversation."""

    reply: object = None
    quit: bool = False
    reset: bool = False     # the conversation was reset (the terminal then offers to clear history)


def handle(session, line: str) -> Outcome:
    """Run one line: a slash command, or a message for the chatbot."""
    stripped = line.strip()
    if stripped.lower().strip(".! ") in _SAID_AS_RESET:
        stripped = "/reset"     # "forget everything" means it
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
        return Outcome(reply=_said(session, "reset"), reset=True)
    if name == "/forget":
        what = rest.strip().lower()
        if not what:
            return Outcome(reply=_said(session, "forget_what"))
        done = session.forget(what.replace(" ", "_"))
        return Outcome(reply=_said(session, "forgotten" if done else "nothing_to_forget", what=what))
    return Outcome(reply=_said(session, "unknown", what=name, commands=list(COMMANDS)))


def wording(session, kind: str, **data) -> str:
    """What a front end says about a command (`kind`), worded by responses/command.j2."""
    return session.bot.renderer.part({"template": "command", "data": {"kind": kind, **data},
                                      "sources": []})


def _said(session, kind: str, **data):
    """A command's answer as a Reply."""
    from chatbot.session import Reply
    text = wording(session, kind, **data)
    return Reply(text=text, intent="command", scope="answered", sources=[], fired=[], follow_up=None,
                 handoff=False, facts=copy.deepcopy(session.facts), intents=["command"], used=[])
