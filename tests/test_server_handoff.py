"""The human half of a handoff over HTTP: the lifecycle (none, waiting, claimed, resolved), the staff
routes and their key, and the bot keeping quiet while a person holds the conversation."""
import base64
import threading
import warnings
from datetime import date, datetime, timedelta, timezone

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from chatbot.server import ServerConfig, create_app, key_notices

TODAY = date(2026, 11, 27)
LOOPBACK, REMOTE = ("127.0.0.1", 50000), ("192.0.2.7", 50000)


class Clock:
    """A clock the test moves by hand (tests never read the real one)."""

    def __init__(self):
        self.now = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)

    def __call__(self):
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def serve(bot, tmp_path):
    """serve(client=address, **ServerConfig options) -> a TestClient on a fresh SQLite database."""
    opened = []

    def make(client=LOOPBACK, db=None, **options):
        db = db or str(tmp_path / f"s{len(opened)}.sqlite3")
        app = create_app(ServerConfig(db=db, **options), bot=bot, today=lambda: TODAY, clock=Clock())
        test_client = TestClient(app, raise_server_exceptions=False, client=client)
        test_client.__enter__()
        opened.append(test_client)
        return test_client
    yield make
    for test_client in opened:
        test_client.__exit__(None, None, None)


def waiting_session(client, headers=None) -> str:
    session_id = client.post("/v1/sessions", json={}, headers=headers).json()["id"]
    reply = client.post(f"/v1/sessions/{session_id}/messages", json={"text": "can I speak to someone?"},
                        headers=headers).json()
    assert reply["handoff"] is True and reply["intent"] == "staff"
    return session_id


def test_a_person_asks_for_a_human_staff_claims_replies_resolves_and_the_bot_answers_again(serve, database):
    client = serve(db=database)
    session_id = waiting_session(client)
    session = f"/v1/sessions/{session_id}"
    assert client.get(session).json()["handoff"] == {"state": "waiting", "staff": None}
    queue = client.get("/v1/handoffs?state=waiting").json()["handoffs"]
    assert [h["id"] for h in queue] == [session_id] and "staff" in queue[0]["text"]

    claimed = client.post(f"/v1/handoffs/{session_id}/claim", json={"staff": "Ana"})
    assert claimed.status_code == 200 and claimed.json()["state"] == "claimed"
    held = client.post(f"{session}/messages", json={"text": "How long does Botox last?"})
    assert held.status_code == 202 and held.json() == {"handoff": {"state": "claimed", "staff": "Ana"}}
    written = client.post(f"{session}/staff-messages", json={"text": "Hello, I'm Ana from the clinic."})
    assert written.status_code == 201 and written.json()["staff"] == "Ana"

    read = client.get(session).json()
    assert read["handoff"] == {"state": "claimed", "staff": "Ana"}
    assert [(m["role"], m.get("staff")) for m in read["transcript"][2:]] == [("user", None), ("staff", "Ana")]

    resolved = client.post(f"/v1/handoffs/{session_id}/resolve", json={}).json()
    assert [(c["state"], c["staff"]) for c in resolved["changes"]] == [
        ("waiting", None), ("claimed", "Ana"), ("resolved", "Ana")]
    answer = client.post(f"{session}/messages", json={"text": "How long does Botox last?"})
    assert answer.status_code == 200 and answer.json()["intent"] != "staff"
    assert client.get(f"/v1/handoffs/{session_id}").json()["transcript"][-1]["role"] == "bot"


def test_released_conversations_go_back_to_the_bot(serve):
    client = serve()
    session_id = waiting_session(client)
    client.post(f"/v1/handoffs/{session_id}/claim", json={"staff": "Ana"})
    released = client.post(f"/v1/handoffs/{session_id}/release", json={"staff": "Ana"}).json()
    assert released["state"] == "none"
    assert client.get("/v1/handoffs").json()["handoffs"] == []
    answer = client.post(f"/v1/sessions/{session_id}/messages", json={"text": "hello"})
    assert answer.status_code == 200 and answer.json()["text"]


@pytest.mark.parametrize("moves, method, path, body, status, words", [
    ([], "POST", "claim", {"staff": "Ana"}, 200, None),
    (["claim"], "POST", "claim", {"staff": "Ben"}, 409, "Ana has already claimed"),
    (["resolve"], "POST", "claim", {"staff": "Ben"}, 409, "cannot be claimed: it is resolved"),
    ([], "POST", "staff-messages", {"text": "hi"}, 409, "Claim this handoff"),
    (["claim"], "POST", "staff-messages", {"text": "  "}, 422, "must not be empty"),
    (["claim"], "POST", "staff-messages", {"text": "x" * 17000}, 413, "larger than 16 KB"),
    ([], "POST", "claim", {}, 422, '"staff"'),
    ([], "POST", "claim", {"staff": "A" * 101}, 422, "at most 100"),
    ([], "POST", "claim", {"staff": "Ana\n<b>"}, 422, "printable"),
    ([], "POST", "claim", ["Ana"], 422, "JSON object"),
    ([], "GET", "?state=everything", None, 422, '"state"'),
])
def test_staff_mistakes_and_conflicts_get_clear_errors(serve, moves, method, path, body, status, words):
    client = serve()
    session_id = waiting_session(client)
    for move in moves:
        assert client.post(f"/v1/handoffs/{session_id}/{move}", json={"staff": "Ana"}).status_code == 200
    if path == "staff-messages":
        url = f"/v1/sessions/{session_id}/staff-messages"
    elif path.startswith("?"):
        url = "/v1/handoffs" + path
    else:
        url = f"/v1/handoffs/{session_id}/{path}"
    response = client.request(method, url, json=body)
    assert response.status_code == status, response.text
    if words:
        error = response.json()["error"]
        assert words in error and "\n" not in error


@pytest.mark.parametrize("method, path", [("GET", "/v1/handoffs/missing"),
                                          ("POST", "/v1/handoffs/missing/claim"),
                                          ("POST", "/v1/handoffs/missing/resolve"),
                                          ("POST", "/v1/handoffs/missing/release"),
                                          ("POST", "/v1/sessions/missing/staff-messages")])
def test_an_unknown_handoff_or_session_is_a_404(serve, method, path):
    response = serve().request(method, path, json={"staff": "Ana", "text": "hi"})
    assert response.status_code == 404 and "No session" in response.json()["error"]


STAFF_ROUTES = [("GET", "/v1/handoffs"), ("GET", "/v1/handoffs/{id}"), ("POST", "/v1/handoffs/{id}/claim"),
                ("POST", "/v1/handoffs/{id}/resolve"), ("POST", "/v1/handoffs/{id}/release"),
                ("POST", "/v1/sessions/{id}/staff-messages")]


def _staff_request(client, method, path, session_id, headers):
    return client.request(method, path.format(id=session_id), headers=headers,
                          json={"staff": "Ana", "text": "hi"} if method == "POST" else None)


@pytest.mark.parametrize("method, path", STAFF_ROUTES)
def test_a_public_key_never_opens_a_staff_route(serve, method, path):
    client = serve(client=REMOTE, api_key="public", staff_key="staff-secret")
    public = {"Authorization": "Bearer public"}
    session_id = waiting_session(client, headers=public)
    basic = base64.b64encode(b"Ana:public").decode()
    for headers in (None, public, {"Authorization": f"Basic {basic}"}, {"Authorization": "Bearer staff"}):
        response = _staff_request(client, method, path, session_id, headers)
        assert response.status_code == 401, (headers, response.text)
        assert "staff key" in response.json()["error"]
    opened = _staff_request(client, method, path, session_id, {"Authorization": "Bearer staff-secret"})
    assert opened.status_code in (200, 201, 409), opened.text


def test_the_staff_key_works_as_a_basic_password_so_a_browser_can_ask_for_it(serve):
    client = serve(client=REMOTE, staff_key="staff-secret")
    asked = client.get("/v1/handoffs")
    assert asked.status_code == 401 and asked.headers["www-authenticate"].startswith("Basic")
    basic = base64.b64encode(b"Ana:staff-secret").decode()
    assert client.get("/v1/handoffs", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    assert client.get("/v1/handoffs", headers={"Authorization": "Basic !!!"}).status_code == 401


@pytest.mark.parametrize("method, path", STAFF_ROUTES)
def test_without_a_staff_key_staff_routes_answer_only_on_loopback(serve, method, path):
    local, remote = serve(), serve(client=REMOTE)
    refused = _staff_request(remote, method, path, waiting_session(remote), None)
    assert refused.status_code == 403 and "CHATBOT_STAFF_KEY" in refused.json()["error"]
    assert _staff_request(local, method, path, waiting_session(local), None).status_code in (200, 201, 409)


def test_public_routes_stay_open_to_the_person_while_staff_routes_are_closed(serve):
    client = serve(client=REMOTE)
    session_id = waiting_session(client)
    assert client.get(f"/v1/sessions/{session_id}").status_code == 200


@pytest.mark.parametrize("config, host, said", [
    (ServerConfig(), "127.0.0.1", ["no CHATBOT_STAFF_KEY"]),
    (ServerConfig(staff_key="s"), "127.0.0.1", []),
    (ServerConfig(staff_key="s"), "0.0.0.0", ["no CHATBOT_API_KEY"]),
    (ServerConfig(api_key="a"), "0.0.0.0", ["no CHATBOT_STAFF_KEY"]),
])
def test_serve_says_what_its_keys_leave_open(config, host, said):
    notices = key_notices(config, host, 8000)
    assert len(notices) == len(said) and all(words in notice for words, notice in zip(said, notices))


def test_the_keys_reach_worker_processes_through_the_environment_only():
    config = ServerConfig.from_json(ServerConfig(api_key="a", staff_key="s").to_json(),
                                    {"CHATBOT_STAFF_KEY": "from-env"})
    assert config.staff_key == "from-env" and config.api_key is None
    assert "from-env" not in repr(config)


# -- news as it arrives (long polling) --------------------------------------------------------------
def test_the_persons_page_gets_a_staff_message_it_is_waiting_for(serve):
    client = serve()
    session_id = waiting_session(client)
    client.post(f"/v1/handoffs/{session_id}/claim", json={"staff": "Ana"})
    results = []
    waiter = threading.Thread(target=lambda: results.append(
        client.get(f"/v1/sessions/{session_id}/updates?after=2&state=claimed&wait=60")))
    waiter.start()
    client.post(f"/v1/sessions/{session_id}/staff-messages", json={"text": "Hello, I'm Ana."})
    waiter.join(timeout=120)
    news = results[0].json()
    assert [(m["role"], m["text"], m["staff"]) for m in news["messages"]] == [
        ("staff", "Hello, I'm Ana.", "Ana")]
    assert news["handoff"] == {"state": "claimed", "staff": "Ana"}


def test_updates_answer_at_once_with_what_the_caller_has_not_seen(serve):
    client = serve()
    session_id = waiting_session(client)
    everything = client.get(f"/v1/sessions/{session_id}/updates?after=0").json()
    assert [m["role"] for m in everything["messages"]] == ["user", "bot"]
    assert everything["handoff"]["state"] == "waiting"
    changed = client.get(f"/v1/sessions/{session_id}/updates?after=2&state=none").json()
    assert changed["messages"] == [] and changed["handoff"]["state"] == "waiting"
    nothing = client.get(f"/v1/sessions/{session_id}/updates?after=2&wait=0").json()
    assert nothing["messages"] == []
    staff_view = client.get(f"/v1/handoffs/{session_id}/updates?after=0").json()["handoff"]
    assert staff_view["changes"][0]["state"] == "waiting" and "facts" in staff_view


@pytest.mark.parametrize("query, words", [("after=-1", '"after"'), ("after=x", '"after"'),
                                          ("wait=61", '"wait"'), ("state=lost", '"state"')])
def test_bad_update_parameters_are_clear_422s(serve, query, words):
    client = serve()
    session_id = waiting_session(client)
    response = client.get(f"/v1/sessions/{session_id}/updates?{query}")
    assert response.status_code == 422 and words in response.json()["error"]
    assert client.get("/v1/sessions/missing/updates?wait=0").status_code == 404


# -- the staff page ----------------------------------------------------------------------------------
def test_the_staff_page_is_a_staff_route_with_the_pages_security_headers(serve):
    page = serve(clinic="Clinic <Rosa>").get("/staff")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "Clinic &lt;Rosa&gt;" in page.text and "<Rosa>" not in page.text
    assert serve(client=REMOTE).get("/staff").status_code == 403
    keyed = serve(client=REMOTE, staff_key="staff-secret")
    assert keyed.get("/staff").status_code == 401
    basic = base64.b64encode(b"ana:staff-secret").decode()
    assert keyed.get("/staff", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    assert keyed.get("/static/staff.js").status_code == 200   # mechanism only, no data


@pytest.mark.parametrize("script", ["chat.js", "staff.js"])
def test_the_page_scripts_never_write_html(script):
    from importlib import resources
    text = (resources.files("chatbot") / "static" / script).read_text(encoding="utf-8")
    assert "textContent" in text
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in text


def test_long_polls_leave_nothing_behind_when_they_end():
    import asyncio

    from chatbot.server import _Changes
    changes = _Changes()

    async def poll_and_notify():
        await changes.wait("a", 0)                       # ran out: nothing kept
        waiting = asyncio.ensure_future(changes.wait("b", 60))
        await asyncio.sleep(0)
        assert len(changes) == 1
        changes.notify("b")
        await waiting
    asyncio.run(poll_and_notify())
    assert len(changes) == 0
