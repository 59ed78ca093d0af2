"""Signed webhooks: the outbox written with each change, and the sender against a real local HTTP
receiver that fails, times out and recovers. The sender runs step by step here (deliver_due) on a
clock the test moves, so nothing waits for a backoff and no test reads the real clock. A real
server killed with kill -9 mid-delivery is in test_webhooks_process.py."""
import hashlib
import hmac
import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema
import pytest
from test_openapi import BASE, REGISTRY

from chatbot.store import HandoffConflict, Turn, open_store
from chatbot.webhooks import GIVE_UP_AFTER, Sender, WebhookError, backoff, check_url, sign

SECRET = "whsec-test"


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)

    def __call__(self):
        return self.now


class Receiver:
    """A local HTTP receiver: answers each POST as the next of `script` says ("ok", "fail" for a 500,
    "hang" for no answer until the test ends), then "ok"; keeps what it accepted."""

    def __init__(self):
        self.script: list[str] = []
        self.accepted: list[tuple[dict, bytes]] = []
        self.attempts: list[str] = []   # event ids, one per request, answered or not
        self.release = threading.Event()
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts.append(self.headers["X-Chatbot-Event-Id"])
                action = receiver.script.pop(0) if receiver.script else "ok"
                if action == "hang":
                    receiver.release.wait(30)
                    return
                self.send_response(204 if action == "ok" else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with receiver.arrived:
                    if action == "ok":
                        receiver.accepted.append((dict(self.headers), body))
                    receiver.arrived.notify_all()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[dict]:
        return [json.loads(body) for _, body in self.accepted]

    def wait_for(self, condition, timeout=90) -> bool:
        """Wait (bounded) until condition(receiver) holds; whether it does."""
        with self.arrived:
            return self.arrived.wait_for(lambda: condition(self), timeout=timeout)


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()


@pytest.fixture
def outbox(database, receiver):
    """(store, sender, clock): a store that writes events for the receiver, and a sender for it."""
    clock = Clock()
    store = open_store(database, clock=clock)
    store.event_targets = (receiver.url,)
    yield store, Sender(store, SECRET, clock=clock, timeout=0.5), clock
    store.close()


def verify(secret: str, headers: dict, body: bytes) -> bool:
    """The README's check, without its freshness test (which reads the clock)."""
    timestamp = headers["X-Chatbot-Timestamp"]
    signed = timestamp.encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Chatbot-Signature"])


def deliver_everything(sender, clock, rounds=20):
    for _ in range(rounds):
        sender.deliver_due()
        clock.now += timedelta(minutes=10)   # past any backoff


def waiting(store, text="a person please") -> str:
    session_id = store.create({"facts": {"treatment": "fillers"}})
    stored = store.get(session_id)
    assert store.save_turn(session_id, stored.version, {"facts": {"treatment": "fillers"}},
                           Turn(text, store._clock(), "Someone will answer.", store._clock(), handoff=True))
    return session_id


def test_every_lifecycle_change_is_a_signed_event_with_a_unique_id(outbox, receiver):
    store, sender, clock = outbox
    session_id = waiting(store)
    store.move_handoff(session_id, "claim", "Ana")
    store.add_staff_message(session_id, "Hello, I'm Ana.")
    stored = store.get(session_id)
    store.save_turn(session_id, stored.version, stored.state, Turn("thanks", clock(), None, clock(), False))
    store.move_handoff(session_id, "resolve", None)
    waiting_again = store.get(session_id)
    store.save_turn(session_id, waiting_again.version, waiting_again.state,
                    Turn("again please", clock(), "Someone will.", clock(), True))
    store.move_handoff(session_id, "release", "Ben")
    deliver_everything(sender, clock)

    events = receiver.events()
    assert [e["type"] for e in events] == ["handoff.waiting", "handoff.claimed", "message.created",
                                           "message.created", "handoff.resolved", "handoff.waiting",
                                           "handoff.released"]
    assert len({e["id"] for e in events}) == len(events)
    assert all(e["session_id"] == session_id for e in events)
    assert events[0]["facts"] == {"treatment": "fillers"} and events[0]["handoff"]["reason"]
    assert events[1]["handoff"]["staff"] == "Ana"
    assert events[2]["message"] == {"role": "staff", "text": "Hello, I'm Ana.", "at": events[2]["created_at"],
                                    "staff": "Ana"}
    assert events[3]["message"]["role"] == "user" and events[3]["message"]["text"] == "thanks"
    documented = jsonschema.Draft202012Validator({"$ref": BASE + "#/components/schemas/WebhookEvent"},
                                                 registry=REGISTRY)
    assert not [error.message for event in events for error in documented.iter_errors(event)]
    for headers, body in receiver.accepted:
        assert verify(SECRET, headers, body)
        assert not verify("another secret", headers, body)
        assert headers["X-Chatbot-Event-Id"] == json.loads(body)["id"]
        assert headers["X-Chatbot-Event"] == json.loads(body)["type"]
    assert store.lease_events(10, timedelta(seconds=1)) == []   # the outbox is empty


def test_a_receiver_that_fails_times_out_and_recovers_gets_the_event(outbox, receiver):
    store, sender, clock = outbox
    receiver.script = ["fail", "hang", "fail", "ok"]
    waiting(store)
    assert sender.deliver_due() == 1                      # 500
    assert sender.deliver_due() == 0                      # not due again yet: backoff(1) s
    clock.now += timedelta(seconds=backoff(1))
    assert sender.deliver_due() == 1                      # no answer within the timeout
    clock.now += timedelta(seconds=backoff(2))
    assert sender.deliver_due() == 1                      # 500 again
    clock.now += timedelta(seconds=backoff(3) - 1)
    assert sender.deliver_due() == 0
    clock.now += timedelta(seconds=1)
    assert sender.deliver_due() == 1                      # recovered
    assert len(set(receiver.attempts)) == 1 and len(receiver.attempts) == 4   # one event, the same id
    assert [e["type"] for e in receiver.events()] == ["handoff.waiting"]
    clock.now += timedelta(hours=1)
    assert sender.deliver_due() == 0


def test_a_receiver_that_is_down_is_retried_for_a_day_then_given_up_with_a_log_line(outbox, receiver, caplog):
    store, sender, clock = outbox
    receiver.script = ["fail"] * 1000
    waiting(store)
    tries = 0
    while sender.deliver_due() and tries < 1000:
        tries += 1
        clock.now += timedelta(seconds=backoff(tries))
    hours = GIVE_UP_AFTER.total_seconds() / 3600
    assert hours >= 1 and tries > 10
    assert "gave up on event" in caplog.text
    assert store.lease_events(10, timedelta(seconds=1)) == []


def test_a_change_that_is_refused_writes_no_event(outbox, receiver):
    store, sender, clock = outbox
    session_id = waiting(store)
    store.move_handoff(session_id, "claim", "Ana")
    with pytest.raises(HandoffConflict):
        store.move_handoff(session_id, "claim", "Ben")
    deliver_everything(sender, clock)
    assert [e["type"] for e in receiver.events()] == ["handoff.waiting", "handoff.claimed"]


def test_two_senders_never_lease_the_same_event(database, receiver):
    clock = Clock()
    first, second = open_store(database, clock=clock), open_store(database, clock=clock)
    try:
        first.event_targets = (receiver.url, receiver.url + "?second")
        for _ in range(3):
            waiting(first)
        taken = first.lease_events(4, timedelta(seconds=30)) + second.lease_events(10, timedelta(seconds=30))
        assert len({(e.id, e.target) for e in taken}) == len(taken) == 6
        clock.now += timedelta(seconds=31)                 # a sender that died: its lease ends
        assert len(second.lease_events(10, timedelta(seconds=30))) == 6
    finally:
        first.close()
        second.close()


def test_without_webhooks_no_event_is_written(database):
    store = open_store(database)
    try:
        waiting(store)
        assert store.lease_events(10, timedelta(seconds=1)) == []
    finally:
        store.close()


@pytest.mark.parametrize("url", ["ftp://desk.example/hook", "desk.example/hook", "http://", "mailto:a@b",
                                 "javascript:alert(1)"])
def test_a_webhook_url_that_is_not_http_is_refused(url):
    with pytest.raises(WebhookError, match="not an http:// or https:// URL"):
        check_url(url)


def test_the_backoff_doubles_up_to_ten_minutes():
    assert [backoff(n) for n in range(1, 6)] == [1, 2, 4, 8, 16]
    assert backoff(50) == 600
    assert sum(backoff(n) for n in range(1, 30)) > 3600   # retried for more than an hour


def test_the_signature_is_hmac_sha256_over_timestamp_and_body():
    body = b'{"id":"e1"}'
    expected = hmac.new(b"s", b"1764236400." + body, hashlib.sha256).hexdigest()
    assert sign("s", "1764236400", body) == "sha256=" + expected


# -- through the server ----------------------------------------------------------------------------
def test_the_server_posts_signed_events_as_the_handoff_moves(bot, tmp_path, receiver):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from chatbot.server import ServerConfig, create_app
    config = ServerConfig(db=str(tmp_path / "s.sqlite3"), webhooks=[receiver.url], webhook_secret=SECRET)
    with TestClient(create_app(config, bot=bot), client=("127.0.0.1", 50000)) as client:
        session_id = client.post("/v1/sessions", json={}).json()["id"]
        client.post(f"/v1/sessions/{session_id}/messages", json={"text": "can I speak to someone?"})
        client.post(f"/v1/handoffs/{session_id}/claim", json={"staff": "Ana"})
        client.post(f"/v1/sessions/{session_id}/messages", json={"text": "hello?"})
        assert receiver.wait_for(lambda r: len(r.accepted) >= 3)
    assert [e["type"] for e in receiver.events()] == ["handoff.waiting", "handoff.claimed", "message.created"]
    assert all(verify(SECRET, headers, body) for headers, body in receiver.accepted)


def test_a_webhook_without_a_secret_is_refused(bot, tmp_path):
    from chatbot.server import ServerConfig, create_app
    with pytest.raises(ValueError, match="CHATBOT_WEBHOOK_SECRET"):
        create_app(ServerConfig(db=str(tmp_path / "s.sqlite3"), webhooks=["http://127.0.0.1:9/hook"]),
                   bot=bot)


@pytest.mark.parametrize("arguments, environ, words", [
    (["--webhook", "ftp://desk.example/hook"], {"CHATBOT_WEBHOOK_SECRET": "s"}, "not an http:// or https://"),
    (["--webhook", "http://127.0.0.1:9/hook"], {}, "needs CHATBOT_WEBHOOK_SECRET"),
])
def test_serve_refuses_a_bad_webhook_setting_in_one_line(arguments, environ, words):
    from test_server import serve_command

    from chatbot import cli
    status, _, errors = serve_command(*arguments, "--port", "1", "--db", ":memory:", environ=environ)
    assert status == cli.ExitStatus.ERROR
    assert words in errors and errors.count("\n") == 1
