"""Where sessions live between turns: their state, their transcript and the staff's handoff queue.

`Store` is the whole interface the HTTP server uses; `SQLiteStore` implements it on one SQLite
file in WAL mode, which several worker processes on one machine can share. A shared database
(PostgreSQL, say) can take its place by implementing the same methods with the same SQL shapes:
nothing else in the server knows which database it talks to.

Concurrency: a turn reads a session (`get`), answers outside any transaction, then `save_turn`
writes the new state only if the session's `version` is still the one it read (optimistic
locking). A writer that lost the race gets False and answers again from the fresh state, so two
processes answering the same session never lose a turn. One that keeps losing answers inside
`exclusive()`, a write transaction that reloads the state and that other writers wait for, so it
cannot lose again (on PostgreSQL: `SELECT ... FOR UPDATE`). Inside one process the server also
queues a session's messages, so all this is rare.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id           TEXT PRIMARY KEY,
    state        TEXT NOT NULL,      -- Session.state as JSON
    version      INTEGER NOT NULL,   -- +1 per saved turn: the optimistic lock
    created_at   TEXT NOT NULL,      -- ISO 8601 UTC, so text order is time order
    updated_at   TEXT NOT NULL,
    handoff_at   TEXT,               -- the latest reply that asked for a human, if any
    handoff_text TEXT
);
CREATE INDEX IF NOT EXISTS sessions_by_update ON sessions (updated_at);
CREATE INDEX IF NOT EXISTS sessions_by_handoff ON sessions (handoff_at) WHERE handoff_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS messages (
    session_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('user', 'bot')),
    text       TEXT NOT NULL,
    at         TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
"""


class StoreUnavailable(Exception):
    """The database cannot be opened or written (bad path, no permission, not a database)."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z: fixed width, so it sorts as text."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_session_id() -> str:
    """128 random bits from `secrets`, URL-safe: unguessable, so an id is as good as a ticket."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class StoredSession:
    """A session as read from the store; `version` is what `save_turn` must be given back."""

    id: str
    state: dict
    version: int
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Turn:
    """One answered message, ready to be saved: the person's text, the answer, and when."""

    user_text: str
    user_at: datetime
    bot_text: str
    bot_at: datetime
    handoff: bool


class Store(Protocol):
    """What the server needs from a database; every method is safe to call from any thread."""

    def create(self, state: dict) -> str:
        """Save a new session with this state; return its fresh id."""

    def get(self, session_id: str) -> StoredSession | None:
        """The session, or None when there is none with this id."""

    def save_turn(self, session_id: str, version: int, state: dict, turn: Turn) -> bool:
        """Store the new state and the turn's two messages in one transaction, only if the session
        is still at `version`; False when another writer got there first or the session is gone."""

    def exclusive(self, session_id: str) -> contextlib.AbstractContextManager[StoredSession | None]:
        """`with store.exclusive(id) as stored:` the session (or None), read in a transaction that
        other writers wait for until the block ends; `save_turn` inside it joins that transaction."""

    def transcript(self, session_id: str) -> list[dict]:
        """The session's messages in order: {"role": "user"|"bot", "text", "at"}."""

    def delete(self, session_id: str) -> bool:
        """Delete the session and its transcript; False when there was none."""

    def handoffs(self, limit: int) -> list[dict]:
        """Sessions whose conversation asked for a human, newest first: id, at, text, facts."""

    def purge(self, idle_for: timedelta) -> int:
        """Delete sessions with no turn for longer than `idle_for`; return how many."""

    def check(self) -> None:
        """Raise when the database cannot be reached (for the health check)."""

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""


class SQLiteStore:
    """The Store on one SQLite file (WAL): one connection per thread, writes in short transactions."""

    def __init__(self, path: str, clock: Callable[[], datetime] = utc_now, busy_timeout: float = 10.0):
        self.path = path
        self._clock = clock
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        # SQLite allows one writer at a time, and a writer that finds the file locked sleeps in
        # steps of up to 100 ms before it tries again: threads of one process queue here instead.
        self._write_lock = threading.RLock()   # re-entrant: save_turn inside exclusive()
        self._temporary = None
        if path == ":memory:":
            # Each connection would get its own empty in-memory database, one per thread: use a
            # temporary file instead, removed by close(), for demos and throwaway servers.
            descriptor, self._temporary = tempfile.mkstemp(prefix="chatbot-", suffix=".sqlite3")
            os.close(descriptor)
        self._target = self._temporary or path
        try:   # fail now, with a clear error, if the file cannot be opened or written
            connection = self._connection()
            connection.executescript(_SCHEMA)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.Error as error:
            self.close()
            raise StoreUnavailable(f"cannot use the database {path}: {error}") from None

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below), so a
            # write never starts as a read that must later upgrade its lock and can deadlock.
            connection = sqlite3.connect(self._target, timeout=self._busy_timeout, isolation_level=None,
                                         check_same_thread=False)
            connection.execute("PRAGMA journal_mode = WAL")
            # FULL: a turn the client has seen answered survives a crash of the process and of the
            # machine alike (NORMAL would survive only the former).
            connection.execute("PRAGMA synchronous = FULL")
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    def _write(self):
        return _Transaction(self._connection(), self._write_lock)

    def create(self, state: dict) -> str:
        session_id, now = new_session_id(), timestamp(self._clock())
        with self._write() as db:
            db.execute("INSERT INTO sessions (id, state, version, created_at, updated_at) "
                       "VALUES (?, ?, 0, ?, ?)", (session_id, _dump(state), now, now))
        return session_id

    @contextlib.contextmanager
    def exclusive(self, session_id: str):
        with self._write():
            yield self.get(session_id)

    def get(self, session_id: str) -> StoredSession | None:
        row = self._connection().execute(
            "SELECT id, state, version, created_at, updated_at FROM sessions WHERE id = ?",
            (session_id,)).fetchone()
        if row is None:
            return None
        return StoredSession(row[0], json.loads(row[1]), row[2], row[3], row[4])

    def save_turn(self, session_id: str, version: int, state: dict, turn: Turn) -> bool:
        bot_at = timestamp(turn.bot_at)
        with self._write() as db:
            updated = db.execute(
                "UPDATE sessions SET state = ?, version = version + 1, updated_at = ?, "
                "handoff_at = CASE WHEN ? THEN ? ELSE handoff_at END, "
                "handoff_text = CASE WHEN ? THEN ? ELSE handoff_text END "
                "WHERE id = ? AND version = ?",
                (_dump(state), bot_at, turn.handoff, bot_at, turn.handoff, turn.bot_text,
                 session_id, version)).rowcount
            if not updated:
                return False
            (last,) = db.execute("SELECT COALESCE(MAX(seq), -1) FROM messages WHERE session_id = ?",
                                 (session_id,)).fetchone()
            db.executemany("INSERT INTO messages (session_id, seq, role, text, at) VALUES (?, ?, ?, ?, ?)",
                           [(session_id, last + 1, "user", turn.user_text, timestamp(turn.user_at)),
                            (session_id, last + 2, "bot", turn.bot_text, bot_at)])
        return True

    def transcript(self, session_id: str) -> list[dict]:
        rows = self._connection().execute(
            "SELECT role, text, at FROM messages WHERE session_id = ? ORDER BY seq", (session_id,))
        return [{"role": role, "text": text, "at": at} for role, text, at in rows]

    def delete(self, session_id: str) -> bool:
        with self._write() as db:
            db.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
            return db.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount > 0

    def handoffs(self, limit: int) -> list[dict]:
        rows = self._connection().execute(
            "SELECT id, handoff_at, handoff_text, state FROM sessions WHERE handoff_at IS NOT NULL "
            "ORDER BY handoff_at DESC, id LIMIT ?", (limit,))
        return [{"id": session_id, "at": at, "text": text, "facts": json.loads(state).get("facts", {})}
                for session_id, at, text, state in rows]

    def purge(self, idle_for: timedelta) -> int:
        cutoff = timestamp(self._clock() - idle_for)
        with self._write() as db:
            db.execute("DELETE FROM messages WHERE session_id IN "
                       "(SELECT id FROM sessions WHERE updated_at < ?)", (cutoff,))
            return db.execute("DELETE FROM sessions WHERE updated_at < ?", (cutoff,)).rowcount

    def check(self) -> None:
        self._connection().execute("SELECT 1 FROM sessions LIMIT 1").fetchall()

    def close(self) -> None:
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()
        if self._temporary:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self._temporary + suffix)


class _Transaction:
    """`with` block around BEGIN IMMEDIATE ... COMMIT (ROLLBACK on any error); inside another
    one on the same connection it joins it, and the outer block commits or rolls back."""

    def __init__(self, connection: sqlite3.Connection, lock: threading.RLock):
        self.connection, self.lock = connection, lock
        self.outermost = False

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            self.outermost = not self.connection.in_transaction
            if self.outermost:
                self.connection.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise
        return self.connection

    def __exit__(self, kind, error, traceback) -> None:
        try:
            if self.outermost:   # an inner block's error reaches the outer one, which rolls back
                self.connection.execute("COMMIT" if kind is None else "ROLLBACK")
        finally:
            self.lock.release()


def _dump(state: dict) -> str:
    return json.dumps(state, ensure_ascii=False, separators=(",", ":"))
