"""The interactive terminal chat (prompt_toolkit): read, answer, print; Ctrl-C cancels the line,
Ctrl-D or /quit leaves, one failing turn prints an apology and the chat goes on."""
from __future__ import annotations

import os

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import WordCompleter
from prompt_toolkit.formatted_text import HTML
from prompt_toolkit.history import FileHistory, InMemoryHistory
from prompt_toolkit.styles import Style

from chatbot.commands import COMMANDS, handle
from chatbot.environment import Environment
from chatbot.status import ExitStatus
from chatbot.terminal import safe

TOPIC_WORDS = ["Botox", "fillers", "cost", "alcohol", "ibuprofen", "Advil", "Aleve", "Motrin",
               "supplements", "ginkgo", "ginseng", "retinol", "tretinoin", "glycolic", "pregnant",
               "breastfeeding", "allergic", "dynamic", "static", "wrinkles", "forehead", "frown",
               "cheekbones", "lips", "aftercare", "recovery", "appointment", "checklist", "why?"]
STYLE = Style.from_dict({"prompt": "ansicyan bold", "bottom-toolbar": "noreverse ansigray"})


def history_path() -> str:
    """The chat history file, in the user's data directory."""
    from platformdirs import user_data_dir
    folder = user_data_dir("botox-filler-chatbot", appauthor=False)
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, "history")


def make_prompt(session, env: Environment, history=None, **options) -> PromptSession:
    """The prompt_toolkit session: history, Tab completion, a toolbar of what the chat knows."""
    if history is None:
        try:
            history = FileHistory(history_path())
        except OSError:
            history = InMemoryHistory()
    # Completes the word being typed: a command at the start of the line, a topic anywhere.
    completer = WordCompleter(list(COMMANDS) + TOPIC_WORDS, ignore_case=True, WORD=True)

    def toolbar():
        facts = session.facts
        if not facts:
            return HTML("<b>/help</b> for help, <b>Ctrl-D</b> to leave")
        shown = ", ".join(f"{k.replace('_', ' ')}: {_short(v)}" for k, v in facts.items())
        return f"Known: {shown}"

    return PromptSession(history=history, completer=completer, bottom_toolbar=toolbar,
                         style=STYLE, color_depth=None if env.colour else _mono(), **options)


def _mono():
    from prompt_toolkit.output import ColorDepth
    return ColorDepth.DEPTH_1_BIT


def _short(value) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, list):
        return "/".join(map(str, value)) or "none"
    if isinstance(value, dict):
        return "/".join(str(v) for v in value.values())
    return str(value)


def _wrapped(text: str) -> str:
    """Text wrapped to the terminal's width, so words are not cut at the edge."""
    import shutil
    import textwrap
    width = max(40, shutil.get_terminal_size((100, 24)).columns - 1)
    return "\n".join(textwrap.fill(line, width, subsequent_indent="  " if line.startswith("- ") else "")
                     if line else "" for line in text.split("\n"))


def run(bot, env: Environment, prompt: PromptSession | None = None) -> ExitStatus:
    """The read-answer-print loop; returns the exit status."""
    session = bot.session()
    prompt = prompt or make_prompt(session, env)
    env.write("Ask me about Botox and dermal fillers. /help for help, Ctrl-D to leave.")
    while True:
        try:
            line = prompt.prompt(HTML("<prompt>you&gt; </prompt>") if env.colour else "you> ")
        except KeyboardInterrupt:
            continue            # Ctrl-C: drop this line, keep chatting
        except EOFError:
            break               # Ctrl-D
        if not line.strip():
            continue
        try:
            outcome = handle(session, line)
        except Exception:       # one failing turn must not end the chat
            env.write("Sorry, something went wrong with that message. Please try rephrasing it.")
            continue
        if outcome.quit:
            break
        reply = outcome.reply
        env.write(_wrapped(safe(reply.text)))
        if reply.sources:
            env.write(f"Sources: {', '.join(reply.sources)}")
        env.write()
    env.write("Goodbye.")
    return ExitStatus.OK
