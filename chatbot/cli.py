"""The command line: `python -m chatbot [--json] [COMMAND ...]`.

`main()` runs the program with error handling and returns an exit status; `program()` is the
program. Each command imports only what it needs, so `ask` stays quick to start.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys

from chatbot.environment import Environment
from chatbot.status import CommandError, ExitStatus
from chatbot.terminal import safe, sources_line


class UsageError(Exception):
    """A bad command line: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):   # argparse prints usage and exits; we want one clear line
        raise UsageError(f"{self.prog}: {message} (try --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chatbot", description="A rule-based chatbot about Botox and dermal "
                     "fillers, grounded in one article. With no command: an interactive chat "
                     "(or, with piped input, one answer per line).")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per answer, one per line (also after the command)")
    parser.add_argument("--no-history", action="store_true",
                        help="chat without keeping a history file (also after `chat`)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    chat = commands.add_parser("chat", help="interactive chat (the default)",
                               description="Interactive chat; with piped input, one answer per line. "
                               "The terminal chat keeps what you type in a history file that only "
                               "you can read (Up arrow recalls it); /reset offers to clear it.")
    _json_option(chat, "one JSON object per answer, one per line (reads one message per line)")
    chat.add_argument("--no-history", action="store_true", default=argparse.SUPPRESS,
                      help="keep no history file: nothing you type is written to disk")
    ask = commands.add_parser("ask", help="answer one question and exit",
                              description="Answer one question and exit. The answer comes first, "
                              "then one line with the inventory IDs it rests on.")
    _json_option(ask, "the answer as one JSON object: text, intent, scope, sources, fired, "
                 "follow_up, handoff, facts, ...")
    ask.add_argument("text", nargs="+", help="the question; - reads it from stdin")

    kb = commands.add_parser("kb", help="print the knowledge base",
                             description="Print every fact of the knowledge base with its ID and "
                             "article line (--json: a list of objects).")
    _json_option(kb, "as a JSON list")
    rules = commands.add_parser("rules", help="print every rule in plain words",
                                description="Print every rule of the knowledge base: when it fires, "
                                "what it concludes, which facts it rests on (--json: a list).")
    _json_option(rules, "as a JSON list")

    quiz = commands.add_parser("quiz", help="a training quiz for front-desk staff",
                               description="A multiple-choice quiz generated from the knowledge base.")
    quiz.add_argument("--count", type=_positive, default=10, help="number of questions (default 10)")
    quiz.add_argument("--topic", choices=["botox", "fillers", "combining", "precautions"],
                      help="only questions on this topic")
    quiz.add_argument("--seed", type=int, help="the same seed gives the same quiz")
    _json_option(quiz, "JSON lines out, answers one per line in")
    quiz.add_argument("--pass", type=_percent, default=80, dest="pass_mark", metavar="PERCENT",
                      help="the pass mark, in percent of the questions (default 80)")
    quiz.add_argument("--name", type=_trainee, help="keep the finished quiz in the training records")
    quiz.add_argument("--export", choices=["gift"], help="write the whole question bank instead "
                      "(gift: Moodle's GIFT format, with feedback per option)")
    quiz.add_argument("-o", "--output", metavar="FILE", help="with --export: write to FILE")

    records = commands.add_parser("records", help="list the training records, or export them",
                                  description="List the finished quizzes and role-plays kept with "
                                  "--name (in the user data folder, or $CHATBOT_DATA_DIR).")
    records.add_argument("--name", type=_trainee, help="only this trainee's records")
    records.add_argument("--csv", action="store_true", help="as CSV, for a spreadsheet")
    records.add_argument("-o", "--output", metavar="FILE", help="write the CSV to FILE")

    roleplay = commands.add_parser("roleplay", help="role-play: answer clients in your own words",
                                   description="The bot plays clients built from the knowledge base; "
                                   "you answer each in your own words and are graded at once, with "
                                   "the article-backed model answer.")
    roleplay.add_argument("--count", type=_positive, default=5, help="number of clients (default 5)")
    roleplay.add_argument("--seed", type=int, help="the same seed gives the same clients")
    _json_option(roleplay, "JSON lines out, replies one per line in")
    roleplay.add_argument("--name", type=_trainee, help="keep the finished session in the training records")

    handout = commands.add_parser("handout", help="a printable cheat sheet",
                                  description="A one-to-two-page cheat sheet from the knowledge base.")
    handout.add_argument("--format", choices=["md", "html"], default="md", help="md (default) or html")
    handout.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    handout.add_argument("--wall", action="store_true",
                         help="the one-page wall sheet instead (best as --format html)")

    serve = commands.add_parser("serve", help="run the HTTP API and web chat",
                                description="Run the HTTP API (v1) and the web chat page.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    serve.add_argument("--db", metavar="PATH|URL", default="chatbot.sqlite3",
                       help="SQLite file for sessions (default chatbot.sqlite3), or a "
                            "postgresql://user@host/dbname URL (pip install '.[postgres]')")
    serve.add_argument("--templates", metavar="DIR",
                       help="a folder of templates that override the built-in ones")
    serve.add_argument("--clinic", metavar="NAME", help="the clinic's name, shown on the page")
    serve.add_argument("--cors", metavar="ORIGIN", action="append", default=[],
                       help="an origin allowed to call the API from a browser (repeatable)")
    serve.add_argument("--retention-days", type=float, default=None, metavar="DAYS",
                       help="delete sessions idle for longer than DAYS")
    serve.add_argument("--workers", type=_positive, default=1, help="worker processes (default 1)")
    serve.add_argument("--webhook", metavar="URL", action="append", default=[],
                       help="POST signed handoff events to URL (repeatable; needs CHATBOT_WEBHOOK_SECRET)")
    serve.add_argument("--chatwoot-url", metavar="URL",
                       help="answer as the agent bot of this Chatwoot (needs CHATWOOT_BOT_TOKEN)")
    serve.add_argument("--ask-contact", action="store_true",
                       help="on a handoff, the page asks for a name and a phone number or email")

    evaluate = commands.add_parser("eval", help="run conversation tests and report accuracy",
                                   description="Run conversation YAML files and report accuracy per intent.")
    evaluate.add_argument("paths", nargs="*", metavar="PATH",
                          help="YAML files or folders (default tests/conversations)")
    _json_option(evaluate, "the report as one JSON object")
    return parser


def _json_option(command: argparse.ArgumentParser, help: str) -> None:
    """`--json` after a command too (`ask --json "..."`). Suppressed when not given, so that it
    does not undo a `--json` given before the command."""
    command.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=help)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _trainee(text: str) -> str:
    name = " ".join(text.split())
    if not name or len(name) > 80 or not name.isprintable():
        raise argparse.ArgumentTypeError("a name of 1 to 80 printable characters is needed")
    return name


def _percent(text: str) -> int:
    try:
        value = int(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole percentage") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 100")
    return value


def _port(text: str) -> int:
    value = _positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return value


ONE_SHOT = ("ask", "kb", "rules")


def run() -> None:
    """The program as the whole process: `python -m chatbot` and the `chatbot` command.

    A one-shot command (`ask`, `kb`) makes many objects that live until the process ends (the
    lexicon, the engine's network) and next to no garbage, yet Python's cyclic garbage collector
    would scan them over and over while they are made, and all again at exit: a quarter of the time
    `ask` takes. So the collector is paused, and resumed by `program` for the commands that run on
    (chat, serve, ...); before exit, whatever is left is frozen out of the final scan (gc.freeze).
    """
    gc.disable()
    try:
        status = main(whole_process=True)
    finally:
        gc.freeze()
    sys.exit(status)


def main(argv: list[str] | None = None, env: Environment | None = None,
         whole_process: bool = False) -> ExitStatus:
    """Run the program; return its exit status. Errors are one line on stderr, never a traceback."""
    env = env or Environment()
    try:
        try:
            with contextlib.redirect_stdout(env.stdout):   # --help is output like any other
                args = build_parser().parse_args(argv)
        except SystemExit as done:                          # after --help
            return ExitStatus(done.code or 0)
        if whole_process and (args.command or "chat") not in ONE_SHOT:
            gc.enable()   # see run()
        return ExitStatus(program(args, env))
    except BrokenPipeError:
        # The reader left (`chatbot kb | head`): nothing more to say, and nobody to say it to.
        env.discard_output()
        return ExitStatus.BROKEN_PIPE
    except UsageError as error:
        env.error(safe(str(error)))
        return ExitStatus.USAGE
    except (CommandError, ValueError, OSError) as error:
        env.error(safe(f"chatbot: {error}"))
        return ExitStatus.ERROR
    except KeyboardInterrupt:
        return ExitStatus.INTERRUPTED


def program(args: argparse.Namespace, env: Environment) -> ExitStatus:
    """The program: run the command that `args` names (chat by default), output through `env`."""
    return COMMANDS[args.command or "chat"](args, env)


# One function per command; each imports what only it needs, so `ask` stays quick to start.
def _ask(args, env: Environment) -> ExitStatus:
    from chatbot.commands import handle
    question = _question(args.text, env)
    outcome = handle(_chatbot(env, args.json).session(), question)   # "/help" works here too
    if outcome.reply is not None:
        _show(env, outcome.reply, args.json)
    return ExitStatus.OK


def _chat(args, env: Environment) -> ExitStatus:
    if env.stdin_is_terminal and not args.json:
        from chatbot import repl
        return repl.run(_chatbot(env, args.json), env, keep_history=not args.no_history)
    return _piped(_chatbot(env, args.json), env, args.json)


def _quiz(args, env: Environment) -> ExitStatus:
    from chatbot import quiz
    return quiz.run(args, env, args.json)


def _roleplay(args, env: Environment) -> ExitStatus:
    from chatbot import roleplay
    return roleplay.run(args, env, args.json)


def _records(args, env: Environment) -> ExitStatus:
    from chatbot import records
    return records.run(args, env)


def _handout(args, env: Environment) -> ExitStatus:
    from chatbot import handout
    return handout.run(args, env)


def _serve(args, env: Environment) -> ExitStatus:
    from chatbot import server
    return server.run(args, env)


def _eval(args, env: Environment) -> ExitStatus:
    from chatbot import evaluate
    return evaluate.run(args, env)


def _question(words: list[str], env: Environment) -> str:
    """The words of `ask`, or with `ask -` the text on stdin (several lines make one message)."""
    if words != ["-"]:
        return " ".join(words)
    try:
        text = env.stdin.read()
    except UnicodeDecodeError:
        raise CommandError("ask -: the question on stdin is not UTF-8 text") from None
    if not text.strip():
        raise UsageError("chatbot ask: no question on stdin (try --help)")
    return " ".join(text.split())


def _chatbot(env: Environment, as_json: bool):
    from chatbot.session import Chatbot
    env.today()   # a bad CHATBOT_TODAY is reported before any work
    bot = Chatbot(today=env.today)
    # Read on a screen, an answer is plain sentences and its IDs come in one line at the end
    # (`_show`); the JSON `text` keeps them inline, as the web page and API clients expect.
    bot.renderer.inline_ids = as_json
    return bot


def _show(env: Environment, reply, as_json: bool) -> None:
    if as_json:
        env.write(json.dumps(reply.to_dict(), ensure_ascii=False))
        return
    env.write(safe(reply.text))
    if reply.sources:
        env.write(sources_line(reply.sources))


def _piped(bot, env: Environment, as_json: bool) -> ExitStatus:
    """One message per input line, one answer per message (blank lines are skipped)."""
    from chatbot.commands import handle
    session = bot.session()
    for line in env.stdin:
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        outcome = handle(session, line)
        if outcome.quit:
            break
        _show(env, outcome.reply, as_json)
        if not as_json:
            env.write()
    return ExitStatus.OK


def _rules(args, env: Environment) -> ExitStatus:
    from chatbot.knowledge import catalogue
    env.write(json.dumps([e.to_dict() for e in catalogue.entries()], indent=2) if args.json
              else catalogue.text())
    return ExitStatus.OK


def _kb(args, env: Environment) -> ExitStatus:
    from chatbot.knowledge import inventory
    entries = inventory.facts().values()
    if args.json:
        env.write(json.dumps([{"id": e.id, "line": e.line, "treatment": e.treatment, "topic": e.topic,
                               "text": e.text} for e in entries], indent=2, ensure_ascii=False))
        return ExitStatus.OK
    for entry in entries:
        env.write(f"{entry.id:<20} line {entry.line:<6} {entry.treatment:<8} {entry.text}")
    env.write(f"\n{len(entries)} facts.")
    return ExitStatus.OK


COMMANDS = {"chat": _chat, "ask": _ask, "kb": _kb, "rules": _rules, "quiz": _quiz, "records": _records,
            "roleplay": _roleplay, "handout": _handout, "serve": _serve, "eval": _eval}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
