"""kill -9 during a webhook delivery loses no event: a real `python -m chatbot serve` whose receiver
hangs on the first delivery is killed mid-request, restarted on the same database, and every
event written before the kill still arrives (at least once; the receiver de-duplicates by id)."""
import httpx
from test_server_process import REQUEST_TIMEOUT, servers  # noqa: F401 (servers: a fixture)
from test_webhooks import SECRET, Receiver, verify


def test_kill_9_during_a_delivery_loses_no_event(servers, tmp_path):  # noqa: F811
    receiver = Receiver()
    receiver.script = ["hang"]                     # the first delivery never gets an answer
    environ = {"CHATBOT_WEBHOOK_SECRET": SECRET}
    try:
        server = servers("--webhook", receiver.url, environ=environ)
        with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT) as http:
            session_id = http.post("/v1/sessions", json={}).json()["id"]
            http.post(f"/v1/sessions/{session_id}/messages", json={"text": "can I speak to someone?"})
            assert receiver.wait_for(lambda r: len(r.attempts) >= 1)   # the delivery is in flight
            assert http.post(f"/v1/handoffs/{session_id}/claim", json={"staff": "Ana"}).status_code == 200
            assert http.post(f"/v1/sessions/{session_id}/staff-messages",
                             json={"text": "Hello, I'm Ana."}).status_code == 201
        server.kill()                              # kill -9, the first delivery still unanswered
        receiver.release.set()
        restarted = servers("--webhook", receiver.url, environ=environ, port=server.port)
        wanted = {"handoff.waiting", "handoff.claimed", "message.created"}
        arrived = receiver.wait_for(lambda r: {e["type"] for e in r.events()} >= wanted, timeout=120)
        assert arrived, restarted.output()
        events = receiver.events()
        assert {e["type"] for e in events} == wanted
        assert len({e["id"] for e in events}) == 3  # three distinct events, none lost
        assert all(e["session_id"] == session_id for e in events)
        assert all(verify(SECRET, headers, body) for headers, body in receiver.accepted)
    finally:
        receiver.close()
