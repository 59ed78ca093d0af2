"""The interactive terminal chat (prompt_toolkit): read, answer, print; Ctrl-C cancels the line,
Ctrl-D or /quit leaves, one failing turn prints an apology and the chat goes on.

What the person types is kept in a history file (Up arrow recalls it) that only they can read,
because it holds health details; `--no-history` keeps none, and `/reset` offers to clear it.
"""
from __future__ import annotations

import os
import stat

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import WordCompleter
from prompt_toolkit.formatted_text import HTML
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.styles import Style

from chatbot.commands import COMMANDS, handle, wording
from chatbot.environment import Environment
from chatbot.status import ExitStatus
from chatbot.terminal import safe, safe_line, sources_line

TOPIC_WORDS = ["Botox", "fillers", "cost", "alcohol", "ibuprofen", "Advil", "Aleve", "Motrin",
               "supplements", "ginkgo", "ginseng", "retinol", "tretinoin", "glycolic", "pregnant",
               "breastfeeding", "allergic", "dynamic", "static", "wrinkles", "forehead", "frown",
               "cheekbones", "lips", "aftercare", "recovery", "appointment", "checklist", "why?"]
STYLE = Style.from_dict({"prompt": "ansicyan bold", "bottom-toolbar": "noreverse ansigray"})
PRIVATE = stat.S_IRUSR | stat.S_IWUSR   # 0600: the owner reads and writes, nobody else


class PrivateFileHistory(FileHistory):
    """prompt_toolkit's history file, readable and writable by its owner only (mode 0600).

    The file is created private, an existing one with a wider mode is narrowed, and a file
    deleted while the chat runs comes back private too."""

    def __init__(self, filename: str):
        _make_private(filename)
        super().__init__(filename)

    def store_string(self, string: str) -> None:
        _make_private(self.filename)
        super().store_string(string)


def _make_private(path) -> None:
    """Create `path` empty with mode 0600 if missing; narrow its mode to 0600 if wider."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE)
    try:
        mode = stat.S_IMODE(os.fstat(descriptor).st_mode)
    finally:
        os.close(descriptor)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        os.chmod(path, PRIVATE)


def history_path(env: Environment) -> str:
    """The chat history file, in the data folder ($CHATBOT_DATA_DIR or the user data folder)."""
    folder = env.data_folder()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return os.path.join(folder, "history")


def open_history(env: Environment, keep: bool = True) -> History:
    """The history file, or with `keep` false (`--no-history`) one held in memory only. A file
    that cannot be used is reported in one line, and the chat goes on without one."""
    if not keep:
        return InMemoryHistory()
    try:
        return PrivateFileHistory(history_path(env))
    except OSError as error:
        env.error(safe_line(f"chatbot: no chat history kept: {error.strerror or error}"))
        return InMemoryHistory()


def make_prompt(session, env: Environment, history: History | None = None,
                keep_history: bool = True, **options) -> PromptSession:
    """The prompt_toolkit session: history, Tab completion, a toolbar of what the chat knows."""
    if history is None:
        history = open_history(env, keep_history)
    # Completes the word being typed: a command at the start of the line, a topic anywhere.
    completer = WordCompleter(list(COMMANDS) + TOPIC_WORDS, ignore_case=True, WORD=True)

    def toolbar():
        facts = session.facts
        if not facts:
            return HTML("<b>/help</b> for help, <b>Ctrl-D</b> to leave")
        return known_line(facts)

    return PromptSession(history=history, completer=completer, bottom_toolbar=toolbar,
                         style=STYLE, color_depth=None if env.colour else _mono(), **options)


def known_line(facts: dict) -> str:
    """What the chat knows, on one line in words: "Known: treatment: fillers | lines: forehead,
    moves"; never a Python list or dict."""
    shown = " | ".join(f"{key.replace('_', ' ')}: {_words(value)}" for key, value in facts.items())
    return safe_line(f"Known: {shown}")


def _words(value) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value == "unknown":
        return "not sure"
    if isinstance(value, dict):
        value = [item for item in value.values() if item not in (None, "", [], {})]
    if isinstance(value, (list, tuple, set)):
        return ", ".join(_words(item) for item in value) or "none"
    return str(value).replace("_", " ")


def _mono():
    from prompt_toolkit.output import ColorDepth
    return ColorDepth.DEPTH_1_BIT


def _wrapped(text: str) -> str:
    """Text wrapped to the terminal's width, so words are not cut at the edge."""
    import shutil
    import textwrap
    width = max(40, shutil.get_terminal_size((100, 24)).columns - 1)
    return "\n".join(textwrap.fill(line, width, subsequent_indent="  " if line.startswith("- ") else "")
                     if line else "" for line in text.split("\n"))


def run(bot, env: Environment, prompt: PromptSession | None = None,
        keep_history: bool = True) -> ExitStatus:
    """The read-answer-print loop; returns the exit status."""
    session = bot.session()
    prompt = prompt or make_prompt(session, env, keep_history=keep_history)
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
            env.write(sources_line(reply.sources))
        if outcome.reset and isinstance(prompt.history, PrivateFileHistory):
            _offer_to_clear(session, env, prompt)
        env.write()
    env.write("Goodbye.")
    return ExitStatus.OK


def _offer_to_clear(session, env: Environment, prompt: PromptSession) -> None:
    """After /reset: ask (never assume) whether the history file should be emptied too."""
    path = prompt.history.filename
    # A prompt of its own, so that the answer is not kept in the history it is about.
    question = PromptSession(history=InMemoryHistory(), input=prompt.input, output=prompt.output)
    env.write(wording(session, "clear_history", path=str(path)))
    try:
        answer = question.prompt("[y/N] ")
    except (KeyboardInterrupt, EOFError):
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        env.write(wording(session, "history_kept"))
        return
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE), "w"):
        pass
    # A fresh history object: prompt_toolkit keeps what it loaded in memory, and the Up arrow
    # must not bring back what was just deleted.
    prompt.history = prompt.default_buffer.history = PrivateFileHistory(path)
    env.write(wording(session, "history_cleared"))
