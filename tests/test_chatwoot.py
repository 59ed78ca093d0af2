"""The Chatwoot connector against a small local stand-in of exactly the Chatwoot routes it uses
(create a message, toggle a conversation's status), with agent-bot events in the shape Chatwoot's
documentation gives. The calls to Chatwoot are delivered step by step here (deliver_due) on a
clock the test moves; one test runs the whole server with its background sender."""
import json
import re
import threading
import warnings
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from chatbot.chatwoot import KIND, ChatwootError, Connector, check_setup
from chatbot.server import ServerConfig, create_app
from chatbot.store import Turn, open_store
from chatbot.webhooks import Sender, backoff

TOKEN = "bot-token-123"
ROUTE = re.compile(r"^/api/v1/accounts/(\d+)/conversations/(\d+)/(messages|toggle_status)$")


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)

    def __call__(self):
        return self.now


class StandIn:
    """Chatwoot's two routes, as its API documents them; `down` answers 503 to that many calls."""

    def __init__(self):
        self.calls: list[tuple[str, int, dict]] = []    # (action, conversation, body) accepted
        self.down = 0
        self.refused = 0
        self.changed = threading.Condition()
        self.next_id = 1000
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                matched = ROUTE.match(self.path)
                if not matched:
                    return self._answer(404, {"error": "Resource could not be found"})
                if self.headers.get("api_access_token") != TOKEN:
                    return self._answer(401, {"error": "You need to sign in or sign up before continuing."})
                if stand_in.down:
                    stand_in.down -= 1
                    stand_in.refused += 1
                    return self._answer(503, {"error": "Service Unavailable"})
                account, conversation, action = int(matched[1]), int(matched[2]), matched[3]
                with stand_in.changed:
                    stand_in.calls.append((action, conversation, body))
                    stand_in.next_id += 1
                    stand_in.changed.notify_all()
                if action == "messages":
                    return self._answer(200, {"id": stand_in.next_id, "content": body.get("content"),
                                              "message_type": 1, "private": body.get("private", False),
                                              "conversation_id": conversation, "account_id": account})
                toggled = {"success": True, "conversation_id": conversation,
                           "current_status": body.get("status")}
                return self._answer(200, {"meta": {}, "payload": toggled})

            def _answer(self, status, document):
                data = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count, timeout=90) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.calls) >= count, timeout=timeout)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def message_created(conversation_id=7, message_id=118, content="hi", message_type="incoming", private=False,
                    status="pending", sender_type="contact"):
    """An agent-bot event, in the shape of Chatwoot's webhook documentation (message_created)."""
    return {
        "id": message_id, "content": content, "created_at": "2026-11-27T09:30:00.000Z",
        "message_type": message_type, "content_type": "text", "private": private, "content_attributes": {},
        "source_id": None,
        "sender": {"id": 14, "name": "little-haze-776", "avatar": "", "type": sender_type},
        "inbox": {"id": 1, "name": "Clinic Rosa"},
        "conversation": {"additional_attributes": {}, "can_reply": True, "channel": "Channel::WebWidget",
                         "id": conversation_id, "inbox_id": 1,
                         "contact_inbox": {"id": 12, "contact_id": 14, "inbox_id": 1,
                                           "source_id": "405f1d30"},
                         "messages": [], "meta": {"sender": {"id": 14, "type": "contact"}, "assignee": None},
                         "status": status, "unread_count": 1, "timestamp": 1764235800},
        "account": {"id": 1, "name": "Clinic Rosa"},
        "event": "message_created",
    }


@pytest.fixture
def stand_in():
    running = StandIn()
    yield running
    running.close()


@pytest.fixture
def connector(bot, database, stand_in):
    """(connector, sender, clock, store): the connector on a store, and a sender to drive by hand."""
    clock = Clock()
    store = open_store(database, clock=clock)

    def answer(session_id, text):
        """As the server answers a turn: not at all while a staff member holds the conversation."""
        stored = store.get(session_id)
        if stored.handoff == "claimed":
            held = Turn(text, clock(), None, clock(), handoff=False)
            store.save_turn(session_id, stored.version, stored.state, held)
            return None
        session = bot.session(stored.state)
        reply = session.ask(text).to_dict()
        store.save_turn(session_id, stored.version, session.state,
                        Turn(text, clock(), reply["text"], clock(), bool(reply["handoff"])))
        return reply

    chatwoot = Connector(stand_in.url, TOKEN, store, answer, lambda: store.create(bot.session().state))
    sender = Sender(store, None, clock=clock, timeout=2, connectors={KIND: chatwoot.request})
    yield chatwoot, sender, clock, store
    store.close()


def deliver_everything(sender, clock, rounds=10):
    for _ in range(rounds):
        sender.deliver_due()
        clock.now += timedelta(minutes=10)


def test_an_incoming_message_is_answered_through_chatwoots_message_api(connector, stand_in):
    chatwoot, sender, clock, _ = connector
    assert chatwoot.handle(message_created(content="How long does Botox take?"))[0] == "answered"
    deliver_everything(sender, clock)
    [(action, conversation, body)] = stand_in.calls
    assert (action, conversation) == ("messages", 7)
    assert body["message_type"] == "outgoing" and body["private"] is False and "Botox" in body["content"]


def test_one_session_per_conversation_keeps_the_context(connector, stand_in):
    chatwoot, sender, clock, store = connector
    booked = "I'm booked for fillers on Friday"
    chatwoot.handle(message_created(conversation_id=7, message_id=1, content=booked))
    chatwoot.handle(message_created(conversation_id=8, message_id=2, content="hello"))
    chatwoot.handle(message_created(conversation_id=7, message_id=3, content="no"))
    first, second = store.linked_session(KIND, "1/7"), store.linked_session(KIND, "1/8")
    assert first != second
    assert store.get(first).state["facts"]["treatment"] == "fillers"
    assert "treatment" not in store.get(second).state.get("facts", {})


@pytest.mark.parametrize("options, words", [
    ({"message_type": "outgoing"}, "outgoing"),
    ({"message_type": "activity"}, "activity"),
    ({"private": True}, "private"),
    ({"sender_type": "user"}, "user"),
    ({"status": "open"}, "an agent holds it"),
    ({"content": None}, "no text"),
])
def test_messages_the_bot_does_not_own_are_ignored(connector, stand_in, options, words):
    chatwoot, sender, clock, store = connector
    outcome, why = chatwoot.handle(message_created(**options))
    assert outcome == "ignored" and words in why
    deliver_everything(sender, clock)
    assert stand_in.calls == [] and store.linked_session(KIND, "1/7") is None


def test_a_message_delivered_twice_is_answered_once(connector, stand_in):
    chatwoot, sender, clock, _ = connector
    assert chatwoot.handle(message_created(message_id=55))[0] == "answered"
    assert chatwoot.handle(message_created(message_id=55))[0] == "duplicate"
    deliver_everything(sender, clock)
    assert len(stand_in.calls) == 1


def test_a_handoff_posts_a_private_note_and_opens_the_conversation(connector, stand_in):
    chatwoot, sender, clock, store = connector
    chatwoot.handle(message_created(message_id=1, content="I'm booked for fillers on Friday"))
    chatwoot.handle(message_created(message_id=2, content="can I speak to someone?"))
    deliver_everything(sender, clock)
    actions = [(action, body.get("private"), body.get("status")) for action, _, body in stand_in.calls]
    assert actions == [("messages", False, None), ("messages", False, None), ("messages", True, None),
                       ("toggle_status", None, "open")]
    note = stand_in.calls[2][2]["content"]
    assert "hands this conversation to a person" in note and "treatment: fillers" in note
    handoff = store.handoff(store.linked_session(KIND, "1/7"))
    assert handoff["state"] == "resolved"
    assert (handoff["changes"][-1]["state"], handoff["changes"][-1]["staff"]) == ("resolved", "Chatwoot")


def test_calls_are_retried_while_chatwoot_is_down(connector, stand_in):
    chatwoot, sender, clock, _ = connector
    stand_in.down = 3
    chatwoot.handle(message_created(content="hello"))
    for attempt in range(1, 4):
        assert sender.deliver_due() == 1 and stand_in.calls == []
        clock.now += timedelta(seconds=backoff(attempt))
    assert sender.deliver_due() == 1
    assert stand_in.refused == 3 and len(stand_in.calls) == 1


@pytest.mark.parametrize("payload", [[], "text", {"event": "conversation_opened"},
                                     {"event": "message_created"},
                                     {**message_created(), "conversation": None},
                                     {**message_created(), "id": {"nested": 1}}])
def test_an_event_of_an_unexpected_shape_does_nothing_and_logs_one_line(connector, stand_in, payload, caplog):
    chatwoot, sender, clock, _ = connector
    outcome, _ = chatwoot.handle(payload)
    assert outcome == "ignored"
    deliver_everything(sender, clock)
    assert stand_in.calls == []
    assert len([r for r in caplog.records if r.name == "chatbot.chatwoot"]) == 1


@pytest.mark.parametrize("url, token, words", [("ftp://desk.example", TOKEN, "not an http:// or https://"),
                                               ("http://127.0.0.1:3000", None, "needs CHATWOOT_BOT_TOKEN")])
def test_a_bad_chatwoot_setting_is_one_clear_line(url, token, words):
    with pytest.raises(ChatwootError, match=words):
        check_setup(url, token)


# -- the whole server ----------------------------------------------------------------------------------
def test_the_server_answers_chatwoot_events_and_replies_in_the_background(bot, tmp_path, stand_in):
    config = ServerConfig(db=str(tmp_path / "s.sqlite3"), chatwoot_url=stand_in.url, chatwoot_token=TOKEN)
    with TestClient(create_app(config, bot=bot)) as client:
        event = message_created(content="How long does Botox take?")
        answered = client.post("/connectors/chatwoot", json=event)
        assert answered.status_code == 200 and answered.json()["status"] == "answered"
        garbage = client.post("/connectors/chatwoot", content=b"not json",
                              headers={"content-type": "text/plain"})
        assert garbage.status_code == 200 and garbage.json()["status"] == "ignored"
        assert stand_in.wait_for(1)
    assert stand_in.calls[0][0] == "messages"


def test_without_the_connector_set_up_its_route_is_a_404(client_without_connector):
    response = client_without_connector.post("/connectors/chatwoot", json=message_created())
    assert response.status_code == 404 and "--chatwoot-url" in response.json()["error"]


def test_with_a_webhook_token_chatwoot_events_must_carry_it(bot, tmp_path, stand_in):
    config = ServerConfig(db=str(tmp_path / "s.sqlite3"), chatwoot_url=stand_in.url, chatwoot_token=TOKEN,
                          chatwoot_webhook_token="hook-secret")
    with TestClient(create_app(config, bot=bot)) as client:
        assert client.post("/connectors/chatwoot", json=message_created()).status_code == 401
        assert client.post("/connectors/chatwoot?token=wrong", json=message_created()).status_code == 401
        accepted = client.post("/connectors/chatwoot?token=hook-secret", json=message_created())
        assert accepted.status_code == 200 and accepted.json()["status"] == "answered"


@pytest.fixture
def client_without_connector(bot, tmp_path):
    with TestClient(create_app(ServerConfig(db=str(tmp_path / "s.sqlite3")), bot=bot)) as client:
        yield client


@pytest.mark.parametrize("arguments, environ, words", [
    (["--chatwoot-url", "ftp://desk.example"], {"CHATWOOT_BOT_TOKEN": "t"}, "not an http:// or https://"),
    (["--chatwoot-url", "http://127.0.0.1:3000"], {}, "needs CHATWOOT_BOT_TOKEN"),
])
def test_serve_refuses_a_bad_chatwoot_setting_in_one_line(arguments, environ, words):
    from test_server import serve_command

    from chatbot import cli
    status, _, errors = serve_command(*arguments, "--port", "1", "--db", ":memory:", environ=environ)
    assert status == cli.ExitStatus.ERROR
    assert words in errors and errors.count("\n") == 1


def test_a_conversation_held_on_the_staff_page_is_not_answered_by_the_bot(connector, stand_in):
    chatwoot, sender, clock, store = connector
    chatwoot.handle(message_created(message_id=1, content="hello"))
    session_id = store.linked_session(KIND, "1/7")
    stored = store.get(session_id)
    store.save_turn(session_id, stored.version, stored.state, Turn("x", clock(), "y", clock(), handoff=True))
    store.move_handoff(session_id, "claim", "Ana")
    outcome, why = chatwoot.handle(message_created(message_id=2, content="are you there?"))
    assert outcome == "ignored" and "staff page" in why
