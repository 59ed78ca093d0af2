"""Where sessions live between turns: their state, their transcript and the staff's handoff queue.

`Store` is the whole interface the HTTP server uses; `SQLiteStore` implements it on one SQLite
file in WAL mode, which several worker processes on one machine can share, and `PostgresStore`
on a PostgreSQL database, which several machines can share; `open_store()` picks one from
`--db`. Both run the same statements, and nothing else in the server knows which it talks to.
The schema has a version and migration steps, run at start-up.

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
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

# The schema, as the steps that build it: step N takes a database from version N - 1 to N. Every
# store runs the missing steps at start-up, in one transaction, so a database written by an older
# release is upgraded in place. The statements are plain SQL that SQLite and PostgreSQL both take.
MIGRATIONS = {
    1: ["""CREATE TABLE IF NOT EXISTS sessions (
    id           TEXT PRIMARY KEY,
    state        TEXT NOT NULL,      -- Session.state as JSON
    version      INTEGER NOT NULL,   -- +1 per saved turn: the optimistic lock
    created_at   TEXT NOT NULL,      -- ISO 8601 UTC, so text order is time order
    updated_at   TEXT NOT NULL,
    handoff_at   TEXT,               -- the latest reply that asked for a human, if any
    handoff_text TEXT
)""",
        "CREATE INDEX IF NOT EXISTS sessions_by_update ON sessions (updated_at)",
        "CREATE INDEX IF NOT EXISTS sessions_by_handoff ON sessions (handoff_at) "
        "WHERE handoff_at IS NOT NULL",
        """CREATE TABLE IF NOT EXISTS messages (
    session_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('user', 'bot')),
    text       TEXT NOT NULL,
    at         TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
)"""],
    # A bot message keeps what a page needs to redraw it after a reload: its sources, whether it
    # asked for a human, and the question it left open (JSON; NULL for the person's messages).
    2: ["ALTER TABLE messages ADD COLUMN details TEXT"],
    # The handoff lifecycle (none -> waiting -> claimed -> resolved): the session's current state,
    # who holds it and since when, every change in handoff_changes, and staff messages in the
    # transcript (the role check is widened by rebuilding the table, which both databases take).
    3: ["ALTER TABLE sessions ADD COLUMN handoff_state TEXT NOT NULL DEFAULT 'none'",
        "ALTER TABLE sessions ADD COLUMN handoff_staff TEXT",
        "ALTER TABLE sessions ADD COLUMN handoff_since TEXT",
        "UPDATE sessions SET handoff_state = 'waiting', handoff_since = handoff_at "
        "WHERE handoff_at IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS sessions_by_handoff_state ON sessions (handoff_state, handoff_since) "
        "WHERE handoff_state <> 'none'",
        """CREATE TABLE IF NOT EXISTS handoff_changes (
    session_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    state      TEXT NOT NULL,      -- the state entered
    staff      TEXT,               -- who made the change (NULL: the conversation itself)
    at         TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
)""",
        """CREATE TABLE messages_v3 (
    session_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('user', 'bot', 'staff')),
    text       TEXT NOT NULL,
    at         TEXT NOT NULL,
    details    TEXT,
    PRIMARY KEY (session_id, seq)
)""",
        "INSERT INTO messages_v3 (session_id, seq, role, text, at, details) "
        "SELECT session_id, seq, role, text, at, details FROM messages",
        "DROP TABLE messages",
        "ALTER TABLE messages_v3 RENAME TO messages"],
    # Webhook events waiting to be delivered (chatbot/webhooks.py), written in the same transaction
    # as the change they tell of; a row is deleted once its target has it.
    4: ["""CREATE TABLE IF NOT EXISTS outbox (
    id         TEXT NOT NULL,      -- the event id, the same for every target
    target     TEXT NOT NULL,      -- where it goes: a webhook URL
    type       TEXT NOT NULL,      -- handoff.waiting, handoff.claimed, ..., message.created
    body       TEXT NOT NULL,      -- the JSON to send, exactly
    created_at TEXT NOT NULL,
    due_at     TEXT NOT NULL,      -- the next attempt, or the end of a sender's lease
    attempts   INTEGER NOT NULL,
    last_error TEXT,
    PRIMARY KEY (id, target)
)""",
        "CREATE INDEX IF NOT EXISTS outbox_by_due ON outbox (due_at)"],
    # Connectors (chatbot/chatwoot.py): which session answers a help desk's conversation, and the
    # help desk's message ids already answered (it may deliver one twice).
    5: ["""CREATE TABLE IF NOT EXISTS linked_sessions (
    kind       TEXT NOT NULL,      -- the connector, e.g. chatwoot
    outside_id TEXT NOT NULL,      -- its conversation, e.g. account 1, conversation 7: 1/7
    session_id TEXT NOT NULL,
    PRIMARY KEY (kind, outside_id)
)""",
        """CREATE TABLE IF NOT EXISTS seen_messages (
    kind       TEXT NOT NULL,
    outside_id TEXT NOT NULL,      -- the help desk's message id
    at         TEXT NOT NULL,
    PRIMARY KEY (kind, outside_id)
)"""],
    # How the clinic may reach a person who asked for one (serve --ask-contact), given with their
    # consent; deleted with the session.
    6: ["""CREATE TABLE IF NOT EXISTS contacts (
    session_id TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    phone      TEXT,
    email      TEXT,
    consent_at TEXT NOT NULL       -- when the person agreed to be contacted
)"""],
}
SCHEMA_VERSION = max(MIGRATIONS)


class StoreUnavailable(Exception):
    """The database cannot be opened or written (bad path, no permission, not a database)."""


class NoSuchSession(Exception):
    """The session does not exist (never did, was deleted or expired)."""


class HandoffConflict(Exception):
    """The handoff is not in a state that allows the change; the message says why, for a person."""


# The handoff lifecycle: what each staff action needs and leads to. A turn whose answer asks for a
# human moves none or resolved to waiting; while claimed, the bot does not answer.
HANDOFF_STATES = ("none", "waiting", "claimed", "resolved")
OPEN_STATES = HANDOFF_STATES[1:]   # the staff's queue: every session that ever asked for a person
HANDOFF_MOVES = {"claim": ({"waiting"}, "claimed"),
                 "resolve": ({"waiting", "claimed"}, "resolved"),
                 "release": ({"waiting", "claimed"}, "none")}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _parse(stamp: str) -> datetime:
    """A stored timestamp back as an aware datetime (fromisoformat takes a Z from Python 3.11)."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


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
    handoff: str = "none"              # one of HANDOFF_STATES
    handoff_staff: str | None = None   # who claimed it, while claimed (and after, until it changes)


@dataclass(frozen=True)
class Turn:
    """One message and its answer, ready to be saved: the person's text, the answer, and when. While
    a person holds the conversation the bot does not answer: `bot_text` is None."""

    user_text: str
    user_at: datetime
    bot_text: str | None
    bot_at: datetime
    handoff: bool
    sources: list[str] = field(default_factory=list)
    follow_up: str | None = None

    def details(self) -> str:
        """What the bot message keeps besides its text, as stored (JSON)."""
        return _dump({"sources": list(self.sources), "handoff": self.handoff, "follow_up": self.follow_up})


@dataclass(frozen=True)
class OutboxEvent:
    """A webhook event leased for delivery to one target."""

    id: str
    target: str
    type: str
    body: str
    created_at: datetime
    attempts: int


class Store(Protocol):
    """What the server needs from a database; every method is safe to call from any thread."""

    def create(self, state: dict) -> str:
        """Save a new session with this state; return its fresh id."""

    def get(self, session_id: str) -> StoredSession | None:
        """The session, or None when there is none with this id."""

    def save_turn(self, session_id: str, version: int, state: dict, turn: Turn) -> bool:
        """Store the new state and the turn's messages in one transaction, only if the session
        is still at `version`; False when another writer got there first or the session is gone.
        An answer that asks for a human moves the handoff from none or resolved to waiting, in the
        same transaction."""

    def move_handoff(self, session_id: str, action: str, staff: str | None) -> dict:
        """Claim, resolve or release the session's handoff (HANDOFF_MOVES) as `staff`; the new
        handoff (`handoff()`'s fields). NoSuchSession, or HandoffConflict when the state forbids it."""

    def add_staff_message(self, session_id: str, text: str) -> dict:
        """Add the claiming staff member's message to the transcript; the message as `transcript()`
        shows it. NoSuchSession, or HandoffConflict when nobody holds the conversation."""

    def handoff(self, session_id: str) -> dict | None:
        """The session's handoff: id, state, staff, since, at, text, facts, its changes
        ({"state", "staff", "at"}, oldest first) and the contact given (or None); None when there
        is no such session."""

    def save_contact(self, session_id: str, name: str, phone: str | None, email: str | None) -> dict:
        """Keep (or replace) the contact details the person gave, with consent, now; the contact
        as `contact()` shows it. NoSuchSession when there is no such session."""

    def contact(self, session_id: str) -> dict | None:
        """{"name", "phone", "email", "consent_at"} as given, or None."""

    def exclusive(self, session_id: str) -> contextlib.AbstractContextManager[StoredSession | None]:
        """`with store.exclusive(id) as stored:` the session (or None), read in a transaction that
        other writers wait for until the block ends; `save_turn` inside it joins that transaction."""

    def transcript(self, session_id: str, start: int = 0) -> list[dict]:
        """The session's messages in order, from the `start`th: {"role": "user"|"bot"|"staff",
        "text", "at"}; a bot message also has "sources", "handoff" and "follow_up" (empty, false
        and null for messages saved before schema version 2), a staff message "staff" (the name)."""

    def delete(self, session_id: str) -> bool:
        """Delete the session and its transcript; False when there was none."""

    def handoffs(self, limit: int, states: tuple[str, ...] = OPEN_STATES) -> list[dict]:
        """Sessions whose handoff is in one of `states`: waiting first, then claimed, then resolved,
        oldest first within each; id, state, staff, since, at and text (of the latest answer that
        asked for a human: the reason), facts."""

    def purge(self, idle_for: timedelta) -> int:
        """Delete sessions with no turn for longer than `idle_for`; return how many."""

    def enqueue(self, target: str, kind: str, body: dict) -> str:
        """Put one request for a target other than the webhooks (a connector's call) in the outbox,
        to be delivered and retried like an event; its id."""

    def first_sight(self, kind: str, outside_id: str) -> bool:
        """Note a connector's message id; False when it was noted before (a repeated delivery)."""

    def linked_session(self, kind: str, outside_id: str) -> str | None:
        """The session answering a connector's conversation, if it has one that still exists."""

    def link_session(self, kind: str, outside_id: str, session_id: str) -> None:
        """Make `session_id` the one answering the connector's conversation."""

    def lease_events(self, limit: int, lease: timedelta) -> list[OutboxEvent]:
        """Up to `limit` outbox events that are due, each now held for `lease` (no other sender
        takes it meanwhile; if this one dies, it is due again when the lease ends)."""

    def event_delivered(self, event_id: str, target: str) -> None:
        """The target has the event (or it is given up): remove it from the outbox."""

    def event_failed(self, event_id: str, target: str, attempts: int, delay: timedelta, error: str) -> None:
        """Try the event again after `delay`; `attempts` so far."""

    def check(self) -> None:
        """Raise when the database cannot be reached (for the health check)."""

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""


def open_store(database: str, clock: Callable[[], datetime] = utc_now) -> Store:
    """The store for `--db`: `postgresql://...` (or `postgres://`) is PostgreSQL, anything else a
    SQLite file (`sqlite:PATH` and `sqlite:///PATH` name one explicitly; `:memory:` is a throwaway)."""
    if database.startswith(("postgresql://", "postgres://")):
        return PostgresStore(database, clock=clock)
    if database.startswith("sqlite:"):
        database = database[len("sqlite:"):]
        database = database[2:] if database.startswith("//") else database
    return SQLiteStore(database, clock=clock)


def shown_database(database: str) -> str:
    """The database as it may be shown or logged: a URL's password is replaced by ***."""
    if "://" not in database:
        return database
    parts = urlsplit(database)
    if parts.password is None:
        return database
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


class _SQLStore:
    """What the SQLite and PostgreSQL stores share: every statement. A subclass supplies `_read()`
    and `_write()` (context managers giving something with execute/executemany taking `?`
    placeholders; `_write()` is one transaction) and `exclusive()`."""

    _clock: Callable[[], datetime]
    # Where each change's webhook event goes (set by the server from --webhook): one outbox row
    # per target, written in the change's own transaction. Empty: no events are written.
    event_targets: tuple[str, ...] = ()

    def create(self, state: dict) -> str:
        session_id, now = new_session_id(), timestamp(self._clock())
        with self._write() as db:
            db.execute("INSERT INTO sessions (id, state, version, created_at, updated_at) "
                       "VALUES (?, ?, 0, ?, ?)", (session_id, _dump(state), now, now))
        return session_id

    def get(self, session_id: str) -> StoredSession | None:
        with self._read() as db:
            row = db.execute("SELECT id, state, version, created_at, updated_at, handoff_state, "
                             "handoff_staff FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            return None
        return StoredSession(row[0], json.loads(row[1]), row[2], row[3], row[4], row[5], row[6])

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
            # The row is now write-locked by this transaction, so no other writer can change its
            # handoff or number its messages until this one commits.
            if turn.handoff:
                (handoff,) = db.execute("SELECT handoff_state FROM sessions WHERE id = ?",
                                        (session_id,)).fetchone()
                if handoff in ("none", "resolved"):
                    self._enter(db, session_id, "waiting", None, bot_at)
            messages = [("user", turn.user_text, timestamp(turn.user_at), None)]
            if turn.bot_text is not None:
                messages.append(("bot", turn.bot_text, bot_at, turn.details()))
            else:   # a person holds the conversation: they are told of the message
                self._event(db, session_id, "message.created", bot_at,
                            message={"role": "user", "text": turn.user_text, "at": messages[0][2]})
            self._append(db, session_id, messages)
        return True

    def move_handoff(self, session_id: str, action: str, staff: str | None) -> dict:
        allowed, target = HANDOFF_MOVES[action]
        now = timestamp(self._clock())
        with self._write() as db:
            current, holder = self._lock_handoff(db, session_id)
            if current not in allowed:
                raise HandoffConflict(_refusal(action, current, holder))
            self._enter(db, session_id, target, staff if target == "claimed" else holder, now,
                        changed_by=staff or holder)
        return self.handoff(session_id)

    def add_staff_message(self, session_id: str, text: str) -> dict:
        now = timestamp(self._clock())
        with self._write() as db:
            current, holder = self._lock_handoff(db, session_id)
            if current != "claimed":
                raise HandoffConflict("Claim this handoff before replying: a staff member may write only "
                                      f"in a conversation they hold (this one is {_state_words(current)}).")
            self._append(db, session_id, [("staff", text, now, _dump({"staff": holder}))])
            message = {"role": "staff", "text": text, "at": now, "staff": holder}
            self._event(db, session_id, "message.created", now, message=message)
        return message

    def handoff(self, session_id: str) -> dict | None:
        with self._read() as db:
            row = db.execute(f"SELECT {_HANDOFF_COLUMNS} FROM sessions WHERE id = ?",
                             (session_id,)).fetchone()
            if row is None:
                return None
            changes = db.execute("SELECT state, staff, at FROM handoff_changes WHERE session_id = ? "
                                 "ORDER BY seq", (session_id,)).fetchall()
        return {**_handoff(*row), "changes": [{"state": state, "staff": staff, "at": at}
                                              for state, staff, at in changes],
                "contact": self.contact(session_id)}

    def save_contact(self, session_id: str, name: str, phone: str | None, email: str | None) -> dict:
        now = timestamp(self._clock())
        with self._write() as db:
            if not db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone():
                raise NoSuchSession(session_id)
            db.execute("DELETE FROM contacts WHERE session_id = ?", (session_id,))
            db.execute("INSERT INTO contacts (session_id, name, phone, email, consent_at) "
                       "VALUES (?, ?, ?, ?, ?)", (session_id, name, phone, email, now))
        return {"name": name, "phone": phone, "email": email, "consent_at": now}

    def contact(self, session_id: str) -> dict | None:
        with self._read() as db:
            row = db.execute("SELECT name, phone, email, consent_at FROM contacts WHERE session_id = ?",
                             (session_id,)).fetchone()
        return dict(zip(("name", "phone", "email", "consent_at"), row)) if row else None

    def transcript(self, session_id: str, start: int = 0) -> list[dict]:
        with self._read() as db:
            rows = db.execute("SELECT role, text, at, details FROM messages "
                              "WHERE session_id = ? AND seq >= ? ORDER BY seq",
                              (session_id, start)).fetchall()
        return [_message(*row) for row in rows]

    def delete(self, session_id: str) -> bool:
        with self._write() as db:
            db.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM handoff_changes WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM linked_sessions WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM contacts WHERE session_id = ?", (session_id,))
            return db.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount > 0

    def handoffs(self, limit: int, states: tuple[str, ...] = OPEN_STATES) -> list[dict]:
        marks = ", ".join("?" for _ in states)
        with self._read() as db:
            rows = db.execute(
                f"SELECT {_HANDOFF_COLUMNS} FROM sessions WHERE handoff_state IN ({marks}) "
                "ORDER BY CASE handoff_state WHEN 'waiting' THEN 0 WHEN 'claimed' THEN 1 ELSE 2 END, "
                "handoff_since, id LIMIT ?", (*states, limit)).fetchall()
        return [_handoff(*row) for row in rows]

    def _lock_handoff(self, db, session_id: str) -> tuple[str, str | None]:
        """Write-lock the session's row (a version bump: a turn that read it before answers again
        from the fresh state) and return its handoff state and holder."""
        if not db.execute("UPDATE sessions SET version = version + 1 WHERE id = ?", (session_id,)).rowcount:
            raise NoSuchSession(session_id)
        return tuple(db.execute("SELECT handoff_state, handoff_staff FROM sessions WHERE id = ?",
                                (session_id,)).fetchone())

    def _enter(self, db, session_id: str, state: str, holder: str | None, at: str,
               changed_by: str | None = None) -> None:
        """Move the (locked) session's handoff to `state` and record who and when."""
        db.execute("UPDATE sessions SET handoff_state = ?, handoff_staff = ?, handoff_since = ? WHERE id = ?",
                   (state, holder, at, session_id))
        (last,) = db.execute("SELECT COALESCE(MAX(seq), -1) FROM handoff_changes WHERE session_id = ?",
                             (session_id,)).fetchone()
        db.execute("INSERT INTO handoff_changes (session_id, seq, state, staff, at) VALUES (?, ?, ?, ?, ?)",
                   (session_id, last + 1, state, changed_by, at))
        self._event(db, session_id, "handoff.released" if state == "none" else f"handoff.{state}", at,
                    changed_by=changed_by)

    def _event(self, db, session_id: str, kind: str, at: str, **details) -> None:
        """Write a webhook event about the (locked) session to the outbox, one row per target."""
        if not self.event_targets:
            return
        row = db.execute(f"SELECT {_HANDOFF_COLUMNS} FROM sessions WHERE id = ?", (session_id,)).fetchone()
        handoff = _handoff(*row)
        event_id = new_session_id()
        body = _dump({"id": event_id, "type": kind, "created_at": at, "session_id": session_id,
                      "handoff": {"state": handoff["state"], "staff": handoff["staff"],
                                  "since": handoff["since"], "reason": handoff["text"]},
                      "facts": handoff["facts"], **details})
        db.executemany("INSERT INTO outbox (id, target, type, body, created_at, due_at, attempts) "
                       "VALUES (?, ?, ?, ?, ?, ?, 0)",
                       [(event_id, target, kind, body, at, at) for target in self.event_targets])

    def enqueue(self, target: str, kind: str, body: dict) -> str:
        event_id, now = new_session_id(), timestamp(self._clock())
        with self._write() as db:
            db.execute("INSERT INTO outbox (id, target, type, body, created_at, due_at, attempts) "
                       "VALUES (?, ?, ?, ?, ?, ?, 0)", (event_id, target, kind, _dump(body), now, now))
        return event_id

    def first_sight(self, kind: str, outside_id: str) -> bool:
        with self._write() as db:
            if db.execute("SELECT 1 FROM seen_messages WHERE kind = ? AND outside_id = ?",
                          (kind, outside_id)).fetchone():
                return False
            db.execute("INSERT INTO seen_messages (kind, outside_id, at) VALUES (?, ?, ?)",
                       (kind, outside_id, timestamp(self._clock())))
        return True

    def linked_session(self, kind: str, outside_id: str) -> str | None:
        with self._read() as db:
            row = db.execute("SELECT l.session_id FROM linked_sessions l "
                             "JOIN sessions s ON s.id = l.session_id "
                             "WHERE l.kind = ? AND l.outside_id = ?", (kind, outside_id)).fetchone()
        return row[0] if row else None

    def link_session(self, kind: str, outside_id: str, session_id: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM linked_sessions WHERE kind = ? AND outside_id = ?", (kind, outside_id))
            db.execute("INSERT INTO linked_sessions (kind, outside_id, session_id) VALUES (?, ?, ?)",
                       (kind, outside_id, session_id))

    def lease_events(self, limit: int, lease: timedelta) -> list[OutboxEvent]:
        now = self._clock()
        until = timestamp(now + lease)
        with self._write() as db:
            rows = db.execute("SELECT id, target, type, body, created_at, attempts, due_at FROM outbox "
                              "WHERE due_at <= ? ORDER BY due_at, created_at LIMIT ?",
                              (timestamp(now), limit)).fetchall()
            leased = []
            for event_id, target, kind, body, created_at, attempts, due_at in rows:
                # Conditional: on PostgreSQL another sender may have leased it since the SELECT.
                if db.execute("UPDATE outbox SET due_at = ? WHERE id = ? AND target = ? AND due_at = ?",
                              (until, event_id, target, due_at)).rowcount:
                    leased.append(OutboxEvent(event_id, target, kind, body, _parse(created_at), attempts))
        return leased

    def event_delivered(self, event_id: str, target: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM outbox WHERE id = ? AND target = ?", (event_id, target))

    def event_failed(self, event_id: str, target: str, attempts: int, delay: timedelta, error: str) -> None:
        with self._write() as db:
            db.execute("UPDATE outbox SET attempts = ?, due_at = ?, last_error = ? "
                       "WHERE id = ? AND target = ?",
                       (attempts, timestamp(self._clock() + delay), error[:500], event_id, target))

    def _append(self, db, session_id: str, messages: list[tuple]) -> None:
        """Add messages (role, text, at, details) after the (locked) session's last one."""
        (last,) = db.execute("SELECT COALESCE(MAX(seq), -1) FROM messages WHERE session_id = ?",
                             (session_id,)).fetchone()
        db.executemany("INSERT INTO messages (session_id, seq, role, text, at, details) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       [(session_id, last + 1 + n, *message) for n, message in enumerate(messages)])

    def purge(self, idle_for: timedelta) -> int:
        cutoff = timestamp(self._clock() - idle_for)
        with self._write() as db:
            for table in ("messages", "handoff_changes", "linked_sessions", "contacts"):
                db.execute(f"DELETE FROM {table} WHERE session_id IN "
                           "(SELECT id FROM sessions WHERE updated_at < ?)", (cutoff,))
            # A help desk repeats a delivery within minutes, not after the retention period.
            db.execute("DELETE FROM seen_messages WHERE at < ?", (cutoff,))
            return db.execute("DELETE FROM sessions WHERE updated_at < ?", (cutoff,)).rowcount

    def _migrate(self, db, found: int) -> int:
        """Run the steps after version `found` (inside the caller's transaction); the new version."""
        if found > SCHEMA_VERSION:
            raise StoreUnavailable(f"the database has schema version {found}, newer than this release "
                                   f"knows ({SCHEMA_VERSION}): upgrade the chatbot")
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version]:
                db.execute(statement)
        return SCHEMA_VERSION


def _message(role: str, text: str, at: str, details: str | None) -> dict:
    message = {"role": role, "text": text, "at": at}
    kept = json.loads(details) if details else {}
    if role == "bot":
        message.update(sources=kept.get("sources", []), handoff=kept.get("handoff", False),
                       follow_up=kept.get("follow_up"))
    elif role == "staff":
        message["staff"] = kept.get("staff")
    return message


_HANDOFF_COLUMNS = "id, handoff_state, handoff_staff, handoff_since, handoff_at, handoff_text, state"


def _handoff(session_id, state, staff, since, at, text, session_state) -> dict:
    return {"id": session_id, "state": state, "staff": staff, "since": since, "at": at, "text": text,
            "facts": json.loads(session_state).get("facts", {})}


def _state_words(state: str) -> str:
    return {"none": "not waiting for a person", "waiting": "waiting for a person",
            "claimed": "claimed", "resolved": "resolved"}[state]


def _refusal(action: str, state: str, holder: str | None) -> str:
    """Why a handoff cannot be claimed, resolved or released now, for the staff member who tried."""
    if state == "claimed" and action == "claim":
        return f"{holder} has already claimed this handoff; ask them, or release it first."
    if state == "none":
        return f"There is nothing to {action}: this conversation is not waiting for a person."
    done = {"claim": "claimed", "resolve": "resolved", "release": "released"}[action]
    return f"This handoff cannot be {done}: it is {_state_words(state)}."


class SQLiteStore(_SQLStore):
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
            with self._write() as db:
                (found,) = db.execute("PRAGMA user_version").fetchone()
                if found != self._migrate(db, found):
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._identity = _identity(os.stat(self._target))
        except (sqlite3.Error, OSError) as error:
            self.close()
            raise StoreUnavailable(f"cannot use the database {path}: {error}") from None
        except StoreUnavailable as error:
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

    @contextlib.contextmanager
    def _read(self):
        yield self._connection()

    @contextlib.contextmanager
    def exclusive(self, session_id: str):
        with self._write():
            yield self.get(session_id)

    def check(self) -> None:
        """The file is still the one opened (not deleted or replaced), still starts as an SQLite
        database (not truncated or overwritten), and both tables read from a fresh connection,
        which has no cached pages to answer from."""
        try:
            found = os.stat(self._target)
        except FileNotFoundError:
            raise StoreUnavailable(f"the database file {self.path} is gone") from None
        if _identity(found) != self._identity:
            raise StoreUnavailable(f"the database file {self.path} was replaced")
        with open(self._target, "rb") as file:
            if file.read(16) != b"SQLite format 3\x00":
                raise StoreUnavailable(f"the database file {self.path} is no longer an SQLite database")
        fresh = sqlite3.connect(self._target, timeout=self._busy_timeout)
        try:
            fresh.execute("SELECT id FROM sessions ORDER BY id DESC LIMIT 1").fetchall()
            fresh.execute("SELECT seq FROM messages ORDER BY session_id DESC, seq DESC LIMIT 1").fetchall()
        finally:
            fresh.close()

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


def _identity(found: os.stat_result) -> tuple[int, int]:
    return found.st_dev, found.st_ino


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


class PostgresStore(_SQLStore):
    """The Store on PostgreSQL (psycopg 3 and its pool; `pip install '.[postgres]'`), for several
    machines on one database. Same tables, same statements, same optimistic lock; `exclusive()`
    locks the session's row (SELECT ... FOR UPDATE), where SQLite locks the whole file. Commits
    wait for the WAL flush (PostgreSQL's default, synchronous_commit=on), so an answered turn is
    on disk."""

    _SCHEMA_LOCK = 0x63686174   # pg_advisory_xact_lock key: one process migrates at a time

    def __init__(self, url: str, clock: Callable[[], datetime] = utc_now, max_connections: int = 8,
                 connect_timeout: float = 10.0):
        self.url = url
        self._clock = clock
        self._local = threading.local()   # the connection of an exclusive() block in this thread
        self._pool = None
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise StoreUnavailable(f"cannot use the database {shown_database(url)}: PostgreSQL needs psycopg "
                                   "and psycopg-pool: pip install 'botox-filler-chatbot[postgres]' (or "
                                   "'.[postgres]' in a clone)") from None
        try:
            # One connection first: a wrong address or password is reported at once, in libpq's
            # words (the pool would only retry until its timeout), and the schema is brought up
            # to date on it, one process at a time.
            timeout = max(1, round(connect_timeout))
            with psycopg.connect(url, autocommit=True, connect_timeout=timeout) as first, first.transaction():
                self._migrate_schema(_Postgres(first))
            # No check on every checkout (a round trip per query): a connection that broke is
            # discarded when it comes back in a bad state, and that request is a 500.
            self._pool = ConnectionPool(url, min_size=1, max_size=max_connections, open=False,
                                        kwargs={"autocommit": True}, name="chatbot")
            self._pool.open(wait=True, timeout=connect_timeout)
        except Exception as error:   # psycopg's errors, the pool's timeout, StoreUnavailable
            self.close()
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise StoreUnavailable(f"cannot use the database {shown_database(url)}: {reason}") from None

    def _migrate_schema(self, db) -> None:
        db.execute("SELECT pg_advisory_xact_lock(?)", (self._SCHEMA_LOCK,))
        db.execute("CREATE TABLE IF NOT EXISTS chatbot_schema (version INTEGER NOT NULL)")
        row = db.execute("SELECT version FROM chatbot_schema").fetchone()
        found = row[0] if row else 0
        if found != self._migrate(db, found):
            db.execute("DELETE FROM chatbot_schema")
            db.execute("INSERT INTO chatbot_schema (version) VALUES (?)", (SCHEMA_VERSION,))

    @contextlib.contextmanager
    def _read(self):
        current = getattr(self._local, "connection", None)
        if current is not None:
            yield _Postgres(current)
            return
        with self._pool.connection() as connection:
            yield _Postgres(connection)

    @contextlib.contextmanager
    def _write(self):
        current = getattr(self._local, "connection", None)
        if current is not None:   # inside exclusive(): join its transaction, which commits at its end
            yield _Postgres(current)
            return
        with self._pool.connection() as connection, connection.transaction():
            yield _Postgres(connection)

    @contextlib.contextmanager
    def exclusive(self, session_id: str):
        with self._pool.connection() as connection, connection.transaction():
            self._local.connection = connection
            try:
                row = connection.execute("SELECT id FROM sessions WHERE id = %s FOR UPDATE",
                                         (session_id,)).fetchone()
                yield self.get(session_id) if row else None
            finally:
                self._local.connection = None

    def check(self) -> None:
        with self._read() as db:
            db.execute("SELECT id FROM sessions ORDER BY id DESC LIMIT 1").fetchall()
            db.execute("SELECT seq FROM messages ORDER BY session_id DESC, seq DESC LIMIT 1").fetchall()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


class _Postgres:
    """A psycopg connection that takes the shared statements' `?` placeholders."""

    def __init__(self, connection):
        self.connection = connection

    def execute(self, statement: str, parameters=()):
        return self.connection.execute(statement.replace("?", "%s"), parameters)

    def executemany(self, statement: str, rows):
        cursor = self.connection.cursor()
        cursor.executemany(statement.replace("?", "%s"), rows)
        return cursor


def _dump(state: dict) -> str:
    return json.dumps(state, ensure_ascii=False, separators=(",", ":"))
