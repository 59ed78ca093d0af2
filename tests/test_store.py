"""The stores on their own, each test on SQLite and on a real PostgreSQL (a throwaway server that
the test run starts itself, see pgcluster.py): the optimistic lock, exclusive turns, retention,
the transcript, schema versions and migrations."""
import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pgcluster
import pytest

from chatbot.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    HandoffConflict,
    NoSuchSession,
    PostgresStore,
    SQLiteStore,
    StoreUnavailable,
    Turn,
    open_store,
    shown_database,
)

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)   # tests never read the real clock


@pytest.fixture
def stores(database):
    """stores(clock=None) -> a store on the test's database (several share it, as processes do)."""
    opened = []

    def make(clock=None):
        store = open_store(database, **({"clock": clock} if clock else {}))
        opened.append(store)
        return store
    yield make
    for store in opened:
        store.close()


def test_the_database_picks_the_store(database):
    store = open_store(database)
    try:
        assert isinstance(store, PostgresStore if database.startswith("postgresql:") else SQLiteStore)
    finally:
        store.close()


def test_a_stale_save_is_refused_and_writes_nothing(stores):
    store = stores()
    session_id = store.create({"facts": {}})
    turn = Turn("hi", NOW, "Hello!", NOW, handoff=False)
    assert store.save_turn(session_id, 0, {"facts": {"a": 1}}, turn) is True
    assert store.save_turn(session_id, 0, {"facts": {"b": 2}}, turn) is False
    assert store.get(session_id).state == {"facts": {"a": 1}}
    assert store.get(session_id).version == 1
    assert len(store.transcript(session_id)) == 2
    assert store.save_turn("missing", 0, {}, turn) is False
    assert store.get("missing") is None


def test_a_writer_waits_for_an_exclusive_turn_and_then_finds_its_version_stale(stores):
    first, second = stores(), stores()   # as two worker processes would have
    session_id = first.create({"facts": {}})
    outcome = []
    with first.exclusive(session_id) as stored:
        racer = threading.Thread(target=lambda: outcome.append(
            second.save_turn(session_id, 0, {"facts": {"lost": True}}, Turn("b", NOW, "B", NOW, False))))
        racer.start()
        racer.join(timeout=0.5)
        assert racer.is_alive()                               # it waits for the lock ...
        assert first.save_turn(session_id, stored.version, {"facts": {"won": True}},
                               Turn("a", NOW, "A", NOW, False))
    racer.join(timeout=30)
    assert outcome == [False]                                 # ... then finds the session moved on
    assert second.get(session_id).state == {"facts": {"won": True}}
    assert [m["text"] for m in second.transcript(session_id)] == ["a", "A"]


def test_an_exclusive_turn_of_a_missing_session_gets_none(stores):
    with stores().exclusive("missing") as stored:
        assert stored is None


def test_an_error_inside_an_exclusive_turn_saves_nothing(stores):
    store = stores()
    session_id = store.create({"facts": {}})
    with pytest.raises(ZeroDivisionError):
        with store.exclusive(session_id) as stored:
            store.save_turn(session_id, stored.version, {"facts": {"x": 1}}, Turn("a", NOW, "A", NOW, False))
            raise ZeroDivisionError
    assert store.get(session_id).state == {"facts": {}} and store.transcript(session_id) == []
    assert store.save_turn(session_id, 0, {"facts": {"y": 2}}, Turn("b", NOW, "B", NOW, False))   # not locked


def test_many_threads_saving_one_session_lose_no_turn(stores):
    """Optimistic saves from several stores at once: every turn lands once, numbered in order."""
    opened = [stores() for _ in range(4)]
    session_id = opened[0].create({"count": 0})

    def talk(store, number):
        for turn in range(10):
            while True:
                stored = store.get(session_id)
                text = f"{number}-{turn}"
                if store.save_turn(session_id, stored.version, {"count": stored.state["count"] + 1},
                                   Turn(text, NOW, text.upper(), NOW, False)):
                    break
    threads = [threading.Thread(target=talk, args=(store, n)) for n, store in enumerate(opened)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert opened[1].get(session_id).state == {"count": 40}
    transcript = opened[2].transcript(session_id)
    assert len(transcript) == 80
    assert all(user["text"].upper() == bot["text"] for user, bot in zip(transcript[::2], transcript[1::2]))


def test_the_transcript_keeps_what_a_page_needs(stores):
    store = stores()
    session_id = store.create({})
    store.save_turn(session_id, 0, {}, Turn("I'm pregnant", NOW, "Not advisable.", NOW + timedelta(seconds=1),
                                            handoff=True, sources=["FIL-CONTRA"], follow_up="breastfeeding"))
    assert store.transcript(session_id) == [
        {"role": "user", "text": "I'm pregnant", "at": "2026-11-27T09:30:00.000Z"},
        {"role": "bot", "text": "Not advisable.", "at": "2026-11-27T09:30:01.000Z", "sources": ["FIL-CONTRA"],
         "handoff": True, "follow_up": "breastfeeding"}]
    assert store.handoffs(5) == [{"id": session_id, "state": "waiting", "staff": None,
                                  "since": "2026-11-27T09:30:01.000Z", "at": "2026-11-27T09:30:01.000Z",
                                  "text": "Not advisable.", "facts": {}}]


def test_text_beyond_ascii_is_kept_as_it_was(stores):
    store = stores()
    session_id = store.create({"facts": {"note": "café ☕ 𝄞"}})
    turn = Turn("ça va? 🙂", NOW, "Très bien", NOW, False)
    store.save_turn(session_id, 0, {"facts": {"note": "naïve 日本"}}, turn)
    assert store.get(session_id).state == {"facts": {"note": "naïve 日本"}}
    assert [m["text"] for m in store.transcript(session_id)] == ["ça va? 🙂", "Très bien"]


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self):
        return self.now


def test_retention_deletes_only_sessions_idle_for_longer_than_the_limit(stores):
    clock = Clock()
    store = stores(clock)
    old, active, fresh = store.create({}), store.create({}), store.create({})
    clock.now += timedelta(days=20)
    store.save_turn(active, 0, {}, Turn("hi", clock.now, "Hello!", clock.now, handoff=True))
    clock.now += timedelta(days=15)
    store.save_turn(fresh, 0, {}, Turn("hi", clock.now, "Hello!", clock.now, handoff=False))
    assert store.purge(timedelta(days=30)) == 1
    assert store.get(old) is None and store.transcript(old) == []
    assert store.get(active) and store.get(fresh)
    assert store.purge(timedelta(days=10)) == 1
    assert store.get(active) is None and store.transcript(active) == []
    assert store.handoffs(10) == []


def test_retention_also_forgets_old_connector_message_ids(stores):
    clock = Clock()
    store = stores(clock)
    assert store.first_sight("chatwoot", "1/118") and not store.first_sight("chatwoot", "1/118")
    clock.now += timedelta(days=31)
    store.purge(timedelta(days=30))
    assert store.first_sight("chatwoot", "1/118")


def test_delete_removes_the_session_and_its_transcript(stores):
    store = stores()
    session_id = store.create({})
    store.save_turn(session_id, 0, {}, Turn("hi", NOW, "Hello!", NOW, handoff=True))
    assert store.delete(session_id) is True
    assert store.get(session_id) is None and store.transcript(session_id) == [] and store.handoffs(5) == []
    assert store.delete(session_id) is False


def test_the_health_check_passes_on_a_working_database(stores):
    stores().check()


# -- the handoff lifecycle -------------------------------------------------------------------------
def _waiting(store, at=NOW) -> str:
    session_id = store.create({"facts": {"pregnant": True}})
    assert store.save_turn(session_id, 0, {"facts": {"pregnant": True}},
                           Turn("a person please", at, "Someone will answer.", at, handoff=True))
    return session_id


def test_a_handoff_goes_from_waiting_to_claimed_to_resolved_with_who_and_when(stores):
    clock = Clock()
    store = stores(clock)
    session_id = _waiting(store)
    assert store.get(session_id).handoff == "waiting"
    clock.now += timedelta(minutes=2)
    claimed = store.move_handoff(session_id, "claim", "Ana")
    assert (claimed["state"], claimed["staff"]) == ("claimed", "Ana")
    assert claimed["since"] == "2026-11-01T12:02:00.000Z"
    assert store.add_staff_message(session_id, "Hello, I'm Ana.")["staff"] == "Ana"
    stored = store.get(session_id)
    assert store.save_turn(session_id, stored.version, stored.state,
                           Turn("thanks", NOW, None, NOW, handoff=False))
    clock.now += timedelta(minutes=3)
    store.move_handoff(session_id, "resolve", None)
    handoff = store.handoff(session_id)
    assert handoff["state"] == "resolved" and handoff["facts"] == {"pregnant": True}
    assert handoff["changes"] == [
        {"state": "waiting", "staff": None, "at": "2026-11-27T09:30:00.000Z"},
        {"state": "claimed", "staff": "Ana", "at": "2026-11-01T12:02:00.000Z"},
        {"state": "resolved", "staff": "Ana", "at": "2026-11-01T12:05:00.000Z"}]
    assert [(m["role"], m["text"]) for m in store.transcript(session_id)] == [
        ("user", "a person please"), ("bot", "Someone will answer."), ("staff", "Hello, I'm Ana."),
        ("user", "thanks")]
    assert [m["text"] for m in store.transcript(session_id, start=3)] == ["thanks"]


def test_a_resolved_handoff_waits_again_when_a_new_answer_asks_for_a_person(stores):
    store = stores()
    session_id = _waiting(store)
    store.move_handoff(session_id, "resolve", "Ana")
    stored = store.get(session_id)
    store.save_turn(session_id, stored.version, stored.state, Turn("again", NOW, "Someone will.", NOW, True))
    assert store.get(session_id).handoff == "waiting"
    assert [h["state"] for h in store.handoffs(5)] == ["waiting"]


@pytest.mark.parametrize("moves, refused, words", [
    ([], "resolve", "nothing to resolve"),
    (["claim"], "claim", "Ana has already claimed"),
    (["resolve"], "claim", "cannot be claimed: it is resolved"),
    (["release"], "release", "nothing to release"),
])
def test_a_move_the_state_forbids_is_a_conflict_that_changes_nothing(stores, moves, refused, words):
    store = stores()
    session_id = _waiting(store) if moves or refused != "resolve" else store.create({})
    for move in moves:
        store.move_handoff(session_id, move, "Ana")
    before = store.handoff(session_id)
    with pytest.raises(HandoffConflict, match=words):
        store.move_handoff(session_id, refused, "Ben")
    assert store.handoff(session_id) == before


def test_staff_may_write_only_in_a_claimed_conversation(stores):
    store = stores()
    session_id = _waiting(store)
    with pytest.raises(HandoffConflict, match="Claim this handoff"):
        store.add_staff_message(session_id, "hi")
    with pytest.raises(NoSuchSession):
        store.add_staff_message("missing", "hi")
    with pytest.raises(NoSuchSession):
        store.move_handoff("missing", "claim", "Ana")
    assert store.handoff("missing") is None


def test_a_staff_move_makes_a_turn_read_before_it_stale(stores):
    store = stores()
    session_id = _waiting(store)
    read_before = store.get(session_id)
    store.move_handoff(session_id, "claim", "Ana")
    assert not store.save_turn(session_id, read_before.version, read_before.state,
                               Turn("hi", NOW, "The bot", NOW, False))


def test_the_queue_lists_waiting_first_then_claimed_oldest_first(stores):
    clock = Clock()
    store = stores(clock)
    first = _waiting(store, clock.now)
    clock.now += timedelta(minutes=1)
    second = _waiting(store, clock.now)
    store.move_handoff(first, "claim", "Ana")
    clock.now += timedelta(minutes=1)
    third = _waiting(store, clock.now)
    assert [h["id"] for h in store.handoffs(10)] == [second, third, first]
    assert [h["id"] for h in store.handoffs(10, ("claimed",))] == [first]
    store.move_handoff(second, "release", "Ana")
    assert [h["id"] for h in store.handoffs(10, ("waiting",))] == [third]
    assert store.delete(first) and store.handoff(first) is None


# -- schema versions -------------------------------------------------------------------------------
def _execute(database: str, statements: list[str], parameters=()) -> None:
    """Run statements on the database directly, as an older release would have."""
    if database.startswith("postgresql:"):
        import psycopg
        with psycopg.connect(database, autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement.replace("?", "%s"), parameters if "?" in statement else ())
    else:
        with sqlite3.connect(database) as connection:
            for statement in statements:
                connection.execute(statement, parameters if "?" in statement else ())
        connection.close()


def _version_1(database: str) -> None:
    """A database as release 0.1 (schema version 1) left it: one session, one turn."""
    marker = ["PRAGMA user_version = 1"]
    if database.startswith("postgresql:"):
        marker = ["CREATE TABLE chatbot_schema (version INTEGER NOT NULL)",
                  "INSERT INTO chatbot_schema VALUES (1)"]
    _execute(database, [*MIGRATIONS[1], *marker])
    _execute(database, ["INSERT INTO sessions (id, state, version, created_at, updated_at) "
                        "VALUES ('old', '{\"facts\": {\"pregnant\": false}}', 1, ?, ?)"],
             ("2026-11-01T10:00:00.000Z", "2026-11-01T10:00:00.000Z"))
    _execute(database, ["INSERT INTO messages (session_id, seq, role, text, at) VALUES "
                        "('old', 0, 'user', 'no', '2026-11-01T10:00:00.000Z'), "
                        "('old', 1, 'bot', 'Thanks.', '2026-11-01T10:00:00.000Z')"])


def test_a_version_1_database_is_migrated_at_start_up_and_keeps_its_sessions(database, stores):
    _version_1(database)
    store = stores()
    assert store.get("old").state == {"facts": {"pregnant": False}}
    assert store.transcript("old")[1] == {"role": "bot", "text": "Thanks.", "at": "2026-11-01T10:00:00.000Z",
                                          "sources": [], "handoff": False, "follow_up": None}
    assert store.save_turn("old", 1, {}, Turn("hi", NOW, "Hello!", NOW, False, ["X"], None))
    assert store.transcript("old")[3]["sources"] == ["X"]
    stores().close()   # a second start finds nothing to do
    assert len(stores().transcript("old")) == 4


def test_a_version_2_queue_entry_becomes_a_waiting_handoff(database, stores):
    _version_1(database)
    _execute(database, ["UPDATE sessions SET handoff_at = '2026-11-01T10:00:00.000Z', handoff_text = 'Ask.' "
                        "WHERE id = 'old'"])
    store = stores()
    assert store.handoffs(5)[0]["state"] == "waiting" and store.get("old").handoff == "waiting"
    store.move_handoff("old", "claim", "Ana")
    assert store.add_staff_message("old", "Hi")["role"] == "staff"


def test_a_database_from_a_newer_release_is_refused_in_one_line(database, stores):
    stores().close()
    newer = SCHEMA_VERSION + 1
    if database.startswith("postgresql:"):
        _execute(database, [f"UPDATE chatbot_schema SET version = {newer}"])
    else:
        _execute(database, [f"PRAGMA user_version = {newer}"])
    with pytest.raises(StoreUnavailable) as refused:
        open_store(database)
    message = str(refused.value)
    assert f"schema version {newer}" in message and "upgrade" in message and "\n" not in message


def test_every_migration_step_is_in_order():
    assert sorted(MIGRATIONS) == list(range(1, SCHEMA_VERSION + 1))


# -- choosing and showing the database -------------------------------------------------------------
@pytest.mark.parametrize("given, shown", [
    ("postgresql://chat:s3cret@db.example:5432/chatbot", "postgresql://chat:***@db.example:5432/chatbot"),
    ("postgresql://chat@db.example/chatbot", "postgresql://chat@db.example/chatbot"),
    ("/var/lib/chatbot/s.sqlite3", "/var/lib/chatbot/s.sqlite3"),
])
def test_a_database_url_is_shown_without_its_password(given, shown):
    assert shown_database(given) == shown


@pytest.mark.parametrize("prefix", ["sqlite:", "sqlite://"])
def test_a_sqlite_url_names_a_file(tmp_path, prefix):
    store = open_store(prefix + str(tmp_path / "s.sqlite3"))
    try:
        assert isinstance(store, SQLiteStore) and (tmp_path / "s.sqlite3").exists()
    finally:
        store.close()


def test_an_unreachable_postgresql_is_one_line_without_the_password(tmp_path):
    pytest.importorskip("psycopg_pool", reason=pgcluster.INSTALL)
    url = f"postgresql://chat:s3cret@/chatbot?host={tmp_path}&port=5999"
    with pytest.raises(StoreUnavailable) as refused:
        PostgresStore(url, connect_timeout=1)
    message = str(refused.value)
    assert message.startswith("cannot use the database postgresql://chat:***@/chatbot")
    assert "s3cret" not in message and "\n" not in message
