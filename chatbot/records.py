"""Training records: each finished quiz or role-play of a named trainee, kept for the manager.

The records live in one SQLite file in the user data folder (platformdirs), or in the folder that
`CHATBOT_DATA_DIR` names (tests and shared machines). A record is a dataclass with a schema
version: the file keeps its version in `PRAGMA user_version`, and `_upgrade` brings an older file
up to date, so records outlive the release that wrote them.
"""
from __future__ import annotations

import csv
import io
import json
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path

from chatbot.environment import Environment
from chatbot.output import deliver
from chatbot.status import ExitStatus
from chatbot.terminal import safe_line

SCHEMA_VERSION = 1
FILE_NAME = "records.sqlite3"
COLUMNS = ("name", "taken_on", "activity", "seed", "score", "total", "percent", "passed", "review")


@dataclass(frozen=True)
class Record:
    """One finished quiz or role-play: who, when, which seed, the score and what to review."""

    name: str
    taken_on: str            # ISO date, from the environment's "today" (CHATBOT_TODAY pins it)
    activity: str            # "quiz" | "roleplay"
    seed: int
    score: float             # points earned (a role-play reply can earn part of a point)
    total: int               # questions or clients planned
    percent: int
    passed: bool
    review: list[str] = field(default_factory=list)
    version: int = SCHEMA_VERSION


def path(env: Environment) -> Path:
    """Where the records file is: $CHATBOT_DATA_DIR, else the user data folder."""
    return Path(env.data_folder()) / FILE_NAME


def _connect(file: Path) -> sqlite3.Connection:
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(file)
        _upgrade(connection)
    except sqlite3.DatabaseError as error:
        raise OSError(f"cannot use the records file {file}: {error}") from None
    return connection


def _upgrade(connection: sqlite3.Connection) -> None:
    """Bring the file to SCHEMA_VERSION, one step per version (only the first exists so far)."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(f"it was written by a newer release (schema {version})")
    if version < 1:
        connection.execute("""CREATE TABLE IF NOT EXISTS records (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL, taken_on TEXT NOT NULL,
            activity TEXT NOT NULL, seed INTEGER NOT NULL, score REAL NOT NULL,
            total INTEGER NOT NULL, percent INTEGER NOT NULL, passed INTEGER NOT NULL,
            review TEXT NOT NULL)""")
        connection.execute("PRAGMA user_version = 1")
    connection.commit()


def add(env: Environment, record: Record) -> None:
    """Store one record."""
    connection = _connect(path(env))
    try:
        with connection:
            connection.execute(
                "INSERT INTO records (name, taken_on, activity, seed, score, total, percent, passed,"
                " review) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.name, record.taken_on, record.activity, record.seed, record.score,
                 record.total, record.percent, int(record.passed), json.dumps(record.review)))
    finally:
        connection.close()


def load(env: Environment, name: str | None = None) -> list[Record]:
    """Every record (of one trainee, if named, without regard to case), oldest first."""
    file = path(env)
    if not file.exists():
        return []
    connection = _connect(file)
    try:
        query = f"SELECT {', '.join(COLUMNS)} FROM records"
        rows = (connection.execute(query + " WHERE lower(name) = lower(?) ORDER BY id", (name,))
                if name else connection.execute(query + " ORDER BY id"))
        return [Record(name=row[0], taken_on=row[1], activity=row[2], seed=row[3], score=row[4],
                       total=row[5], percent=row[6], passed=bool(row[7]), review=json.loads(row[8]))
                for row in rows]
    finally:
        connection.close()


def as_csv(records: list[Record]) -> str:
    """The records as CSV for a spreadsheet: one row each, review joined with "; "."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for record in records:
        row = asdict(record)
        row["review"] = "; ".join(record.review)
        row["passed"] = "yes" if record.passed else "no"
        writer.writerow([_cell(row[column]) for column in COLUMNS])
    return out.getvalue()


def _cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula (a name like "=SUM(...)")."""
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def run(args, env: Environment) -> ExitStatus:
    """`chatbot records`: list the stored records, or export them as CSV."""
    records = load(env, args.name)
    if args.csv or args.output:
        if deliver(env, as_csv(records), args.output, "the records", newline=""):
            env.error(f"{len(records)} record{'s' if len(records) != 1 else ''} written to {args.output}.")
        return ExitStatus.OK
    if not records:
        env.write("No training records yet" + (f" for {safe_line(args.name)}" if args.name else "")
                  + ". Run a quiz or a role-play with --name NAME to keep one.")
        return ExitStatus.OK
    for record in records:
        env.write(f"{record.taken_on}  {safe_line(record.name):<16} {record.activity:<8} "
                  f"seed {record.seed:<7}"
                  f" {record.score:g}/{record.total} ({record.percent}%) "
                  f"{'passed' if record.passed else 'not passed'}"
                  + (f"; review: {'; '.join(record.review)}" if record.review else ""))
    return ExitStatus.OK
