"""The HTTP API in process: contract, bad input, security, persistence, concurrency, customisation.

Real servers (a restart after kill -9, several workers) are in test_server_process.py; the page in
a browser is in test_browser.py.
"""
import asyncio
import io
import json
import os
import re
import socket
import threading
import warnings
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Mount

with warnings.catch_warnings():   # Starlette 1.x nudges from httpx towards httpx2; both work here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from chatbot import Chatbot, cli
from chatbot.environment import Environment
from chatbot.server import MAX_BODY, ServerConfig, create_app
from chatbot.store import SQLiteStore

TODAY = date(2026, 11, 27)
REPLY_KEYS = {"text", "intent", "scope", "sources", "fired", "follow_up", "handoff", "facts"}
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)   # tests never read the real clock
JSON = {"content-type": "application/json"}
UTC_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def serve(bot, tmp_path):
    """serve(**ServerConfig options) -> a TestClient (lifespan running) on a fresh database."""
    opened = []

    def make(bot=bot, store=None, clock=None, **options):
        options.setdefault("db", str(tmp_path / f"sessions{len(opened)}.sqlite3"))
        extra = {"clock": clock} if clock else {}
        app = create_app(ServerConfig(**options), bot=bot, store=store, today=lambda: TODAY, **extra)
        # From the loopback address, as on a clinic's own machine (staff routes answer there).
        client = TestClient(app, raise_server_exceptions=False, client=("127.0.0.1", 50000))
        client.__enter__()
        opened.append(client)
        return client
    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(serve):
    return serve()


def new_session(client, headers=None) -> str:
    response = client.post("/v1/sessions", json={}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def say(client, session_id, text, headers=None) -> dict:
    response = client.post(f"/v1/sessions/{session_id}/messages", json={"text": text}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


# -- the contract ----------------------------------------------------------------------------------
def test_a_session_is_created_answered_read_and_deleted(client):
    response = client.post("/v1/sessions", json={})
    assert response.status_code == 201
    session_id = response.json()["id"]
    assert response.headers["location"] == f"/v1/sessions/{session_id}"

    reply = say(client, session_id, "I'm booked for fillers on 2026-12-04")
    assert REPLY_KEYS <= reply.keys()
    assert reply["facts"] == {"treatment": "fillers", "appointment_date": "2026-12-04"}
    assert reply["follow_up"] == "pregnant"

    session = client.get(f"/v1/sessions/{session_id}").json()
    assert session["id"] == session_id
    assert session["facts"] == reply["facts"]
    assert [(m["role"], m["text"]) for m in session["transcript"]] == [
        ("user", "I'm booked for fillers on 2026-12-04"), ("bot", reply["text"])]
    assert all(UTC_STAMP.match(m["at"]) for m in session["transcript"])

    assert client.delete(f"/v1/sessions/{session_id}").status_code == 204
    assert client.get(f"/v1/sessions/{session_id}").status_code == 404
    assert client.post(f"/v1/sessions/{session_id}/messages", json={"text": "hi"}).status_code == 404
    assert client.delete(f"/v1/sessions/{session_id}").status_code == 404


def test_http_replies_are_the_python_api_replies(client, bot):
    """The same conversation through HTTP and through Chatbot.session() gives the same objects."""
    conversation = ["hello", "I'm booked for Botox on 2026-12-10", "no", "I take Advil", "why?",
                    "Can I drink wine before fillers?"]
    direct = bot.session()
    session_id = new_session(client)
    for text in conversation:
        assert say(client, session_id, text) == direct.ask(text).to_dict()


def test_session_ids_are_long_random_and_distinct(client):
    ids = {new_session(client) for _ in range(20)}
    assert len(ids) == 20
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22,}", i) for i in ids)


def test_the_conversation_context_survives_between_requests(client):
    session_id = new_session(client)
    assert say(client, session_id, "check me for fillers")["follow_up"] == "pregnant"
    reply = say(client, session_id, "no")   # answers the pending question, not a new topic
    assert reply["facts"]["pregnant"] is False


@pytest.mark.parametrize("command, check", [
    ("/reset", lambda reply: reply["facts"] == {} and reply["intent"] == "command"),
    ("/forget pregnancy", lambda reply: "pregnant" not in reply["facts"]),
    ("/why", lambda reply: reply["intent"] == "why"),
    ("/quit", lambda reply: reply["intent"] == "bye"),
])
def test_slash_commands_work_as_in_the_terminal(client, command, check):
    session_id = new_session(client)
    say(client, session_id, "I am pregnant")
    assert check(say(client, session_id, command))


# -- bad input: always JSON, never a 500 -----------------------------------------------------------
def error_of(response) -> str:
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error, str) and error
    return error


@pytest.mark.parametrize("body, status, words", [
    (b"not json", 400, "JSON"),
    (b"", 400, "JSON"),
    (b"{\"text\": ", 400, "JSON"),
    (b"\xff\xfe\x00{", 400, "JSON"),
    (b"[" * 5000, 400, "JSON"),   # nesting deep enough to exhaust the parser's recursion
    (b"[1, 2]", 422, "text"),
    (b"\"hello\"", 422, "text"),
    (b"{}", 422, "text"),
    (b"{\"message\": \"hi\"}", 422, "text"),
    (b"{\"text\": \"\"}", 422, "empty"),
    (b"{\"text\": \" \\n\\t \"}", 422, "empty"),
    (b"{\"text\": 5}", 422, "string"),
    (b"{\"text\": null}", 422, "string"),
    (b"{\"text\": [\"hi\"]}", 422, "string"),
    (json.dumps({"text": "x" * MAX_BODY}).encode(), 413, "16 KB"),
])
def test_a_bad_message_body_gets_a_clear_json_error(client, body, status, words):
    session_id = new_session(client)
    response = client.post(f"/v1/sessions/{session_id}/messages", content=body,
                           headers={"content-type": "application/json"})
    assert response.status_code == status
    assert words in error_of(response)
    assert client.get(f"/v1/sessions/{session_id}").json()["transcript"] == []


def test_a_body_of_exactly_the_limit_is_accepted(client):
    session_id = new_session(client)
    body = json.dumps({"text": ""})
    body = body[:-2] + "b" * (MAX_BODY - len(body)) + body[-2:]
    assert len(body.encode()) == MAX_BODY
    response = client.post(f"/v1/sessions/{session_id}/messages", content=body, headers=JSON)
    assert response.status_code == 200
    assert response.json()["intent"] == "too_long"


def test_a_chunked_body_over_the_limit_is_refused_without_a_length(client):
    session_id = new_session(client)

    def chunks():
        yield b'{"text": "'
        for _ in range(40):
            yield b"a" * 1024
        yield b'"}'
    response = client.post(f"/v1/sessions/{session_id}/messages", content=chunks(), headers=JSON)
    assert response.status_code == 413
    error_of(response)


@pytest.mark.parametrize("method, path, status", [
    ("POST", "/v1/sessions/no-such-session/messages", 404),
    ("GET", "/v1/sessions/no-such-session", 404),
    ("DELETE", "/v1/sessions/no-such-session", 404),
    ("GET", "/v1/nothing-here", 404),
    ("GET", "/nothing-here", 404),
    ("PUT", "/v1/sessions", 405),
    ("GET", "/v1/sessions/x/messages", 405),
    ("GET", "/v1/handoffs?limit=0", 422),
    ("GET", "/v1/handoffs?limit=many", 422),
    ("GET", "/v1/handoffs?limit=100000", 422),
])
def test_client_mistakes_get_json_errors(client, method, path, status):
    response = client.request(method, path, json={"text": "hi"} if method == "POST" else None)
    assert response.status_code == status
    error_of(response)


def test_a_wrong_method_names_the_allowed_ones(client):
    response = client.put("/v1/sessions")
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]


@pytest.fixture(scope="module")
def shared_client(bot, tmp_path_factory):
    """One app for the property test below (hypothesis runs it many times)."""
    db = tmp_path_factory.mktemp("fuzz") / "sessions.sqlite3"
    app = create_app(ServerConfig(db=str(db)), bot=bot, today=lambda: TODAY)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                           | st.text(max_size=50),
                           lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.sampled_from(["text", "x", ""]), inner, max_size=3),
                           max_leaves=10)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode()),
                      st.text(max_size=300).map(lambda t: json.dumps({"text": t}).encode())))
def test_no_body_makes_the_server_fail(shared_client, body):
    session_id = new_session(shared_client)
    response = shared_client.post(f"/v1/sessions/{session_id}/messages", content=body, headers=JSON)
    assert response.status_code in (200, 400, 422), response.text
    if response.status_code != 200:
        error_of(response)
    else:
        assert REPLY_KEYS <= response.json().keys()


# -- security --------------------------------------------------------------------------------------
def test_with_an_api_key_every_public_v1_request_needs_it(serve):
    client = serve(api_key="s3cret-key")
    good = {"Authorization": "Bearer s3cret-key"}
    for headers in (None, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-key"},
                    {"Authorization": "Basic s3cret-key"}, {"Authorization": "Bearer "}):
        for method, path in (("POST", "/v1/sessions"), ("GET", "/v1/sessions/x"), ("GET", "/v1/sources")):
            response = client.request(method, path, headers=headers)
            assert response.status_code == 401, (headers, path)
            assert response.headers["www-authenticate"] == "Bearer"
            error_of(response)
    session_id = new_session(client, headers=good)
    assert say(client, session_id, "hello", headers={"Authorization": "bearer s3cret-key"})
    assert client.get(f"/v1/sessions/{session_id}", headers=good).status_code == 200


def test_the_page_health_and_openapi_need_no_key(serve):
    client = serve(api_key="s3cret-key")
    for path in ("/", "/healthz", "/openapi.json", "/static/chat.js"):
        assert client.get(path).status_code == 200, path


def test_cors_allows_only_listed_origins_and_preflight_needs_no_key(serve):
    client = serve(cors=["https://desk.example"], api_key="k")
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"}
    allowed = client.options("/v1/sessions", headers={"Origin": "https://desk.example", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://desk.example"
    refused = client.options("/v1/sessions", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in refused.headers
    real = client.post("/v1/sessions", json={}, headers={"Origin": "https://desk.example",
                                                "Authorization": "Bearer k"})
    assert real.status_code == 201
    assert real.headers["access-control-allow-origin"] == "https://desk.example"


def test_without_a_cors_list_no_origin_is_allowed(client):
    response = client.post("/v1/sessions", json={}, headers={"Origin": "https://desk.example"})
    assert "access-control-allow-origin" not in response.headers


def test_api_answers_are_not_cached_and_not_sniffed(client):
    response = client.post("/v1/sessions", json={})
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_page_shows_the_clinic_name_as_text_and_runs_only_its_own_script(serve):
    page = serve(clinic='Rosa & Co <script>alert("x")</script>').get("/")
    assert page.status_code == 200
    assert "Rosa &amp; Co &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    assert "<script>alert" not in page.text
    assert re.findall(r"<script[^>]*>", page.text) == ['<script src="static/chat.js" defer>']
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_the_page_script_never_writes_html():
    from importlib import resources
    script = (resources.files("chatbot") / "static" / "chat.js").read_text(encoding="utf-8")
    assert "textContent" in script
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script


# -- the handoff queue -----------------------------------------------------------------------------
def test_handoffs_list_the_sessions_waiting_for_a_human_oldest_first(client):
    calm = new_session(client)
    say(client, calm, "How long does Botox take?")
    first = new_session(client)
    say(client, first, "check me for fillers")
    stop = say(client, first, "yes, I am pregnant")
    assert stop["handoff"] is True
    second = new_session(client)
    say(client, second, "I'm booked for fillers on 2026-12-04")
    assert say(client, second, "yes")["handoff"] is True

    waiting = client.get("/v1/handoffs").json()["handoffs"]
    assert [h["id"] for h in waiting] == [first, second]
    assert waiting[0]["text"] == stop["text"] and waiting[0]["state"] == "waiting"
    assert waiting[0]["facts"]["pregnant"] is True
    assert all(UTC_STAMP.match(h["at"]) for h in waiting)
    assert waiting[1]["at"] >= waiting[0]["at"]
    assert [h["id"] for h in client.get("/v1/handoffs?limit=1").json()["handoffs"]] == [first]

    client.delete(f"/v1/sessions/{first}")
    assert [h["id"] for h in client.get("/v1/handoffs").json()["handoffs"]] == [second]


# -- persistence and concurrency -------------------------------------------------------------------
def test_a_new_app_on_the_same_database_carries_on_the_conversation(serve, database):
    db = database
    first = serve(db=db)
    session_id = new_session(first)
    say(first, session_id, "check me for fillers")
    first.__exit__(None, None, None)

    second = serve(db=db)
    reply = say(second, session_id, "no")
    assert reply["facts"]["pregnant"] is False
    assert len(second.get(f"/v1/sessions/{session_id}").json()["transcript"]) == 4


async def _talk(app, scripts: dict[int, list[str]]) -> dict[int, str]:
    """Run every script in its own session, all at once; return the session ids."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        async def one(number, texts):
            session_id = (await http.post("/v1/sessions", json={})).json()["id"]
            for text in texts:
                response = await http.post(f"/v1/sessions/{session_id}/messages", json={"text": text})
                assert response.status_code == 200, response.text
            return number, session_id
        return dict(await asyncio.gather(*(one(n, texts) for n, texts in scripts.items())))


def concurrent_sessions_keep_their_facts_to_themselves(bot, db: str, today: date, clock) -> None:
    """28 sessions at once, each booked on its own day of the month after `today`: every session's
    facts and messages are its own. Only facts and texts are compared, never the transcript's
    timestamps, which come from `clock`."""
    app = create_app(ServerConfig(db=db), bot=bot, today=lambda: today, clock=clock)
    treatments = ["fillers", "Botox"]
    first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    booked = {day: first.replace(day=day).isoformat() for day in range(1, 29)}
    scripts = {day: [f"My {treatments[day % 2]} appointment is on {booked[day]}",
                     "no" if day % 3 else "yes", "what do you know about me"]
               for day in range(1, 29)}
    ids = asyncio.run(_talk(app, scripts))
    client = TestClient(app)
    sessions = {day: client.get(f"/v1/sessions/{session_id}").json() for day, session_id in ids.items()}
    for day, session in sessions.items():
        assert session["facts"]["appointment_date"] == booked[day]
        assert session["facts"]["treatment"] == treatments[day % 2].lower()
        said = [m["text"] for m in session["transcript"] if m["role"] == "user"]
        assert said == scripts[day]
        others = [(other["facts"], [m["text"] for m in other["transcript"]])
                  for d, other in sessions.items() if d != day]
        assert booked[day] not in json.dumps(others)


def test_many_concurrent_sessions_keep_their_facts_to_themselves(bot, tmp_path):
    concurrent_sessions_keep_their_facts_to_themselves(bot, str(tmp_path / "s.sqlite3"), TODAY, Clock())


ITEMS = ["ibuprofen", "aspirin", "vitamin E", "ginseng", "garlic pills", "ginkgo biloba", "retinol",
         "tretinoin", "glycolic acid", "naproxen"]
STORED = {"medicines": {"ibuprofen", "aspirin", "naproxen"},
          "supplements": {"vitamin E", "ginseng", "garlic", "ginkgo"},
          "skincare": {"retinol", "tretinoin", "glycolic acid"}}


def _assert_every_message_counted(transcript, facts):
    roles = [m["role"] for m in transcript]
    assert roles == ["user", "bot"] * len(ITEMS)     # each answer right after its own message
    assert sorted(m["text"] for m in transcript if m["role"] == "user") == sorted(
        f"I take {item}" for item in ITEMS)
    for key, items in STORED.items():
        assert set(facts[key]) == items, key           # no message's facts were lost


def test_simultaneous_messages_to_one_session_are_answered_one_at_a_time(bot, tmp_path):
    app = create_app(ServerConfig(db=str(tmp_path / "s.sqlite3")), bot=bot, today=lambda: TODAY)
    client = TestClient(app)
    session_id = new_session(client)

    async def burst():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await asyncio.gather(*(http.post(f"/v1/sessions/{session_id}/messages",
                                                    json={"text": f"I take {item}"}) for item in ITEMS))
    assert {r.status_code for r in asyncio.run(burst())} == {200}
    session = client.get(f"/v1/sessions/{session_id}").json()
    _assert_every_message_counted(session["transcript"], session["facts"])


def test_two_workers_on_one_database_lose_no_message_of_a_shared_session(serve, database):
    """Two apps (as two worker processes would be) answer one session at once: the store's
    version check makes the loser of each race answer again from the fresh state."""
    db = database
    clients = [serve(db=db), serve(db=db)]   # each with its own event loop and connections
    session_id = new_session(clients[0])
    start = threading.Barrier(len(ITEMS))
    statuses = []

    def send(number, item):
        start.wait()
        statuses.append(say(clients[number % 2], session_id, f"I take {item}") and 200)
    threads = [threading.Thread(target=send, args=(n, item)) for n, item in enumerate(ITEMS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * len(ITEMS)
    session = clients[1].get(f"/v1/sessions/{session_id}").json()
    _assert_every_message_counted(session["transcript"], session["facts"])


# -- retention -------------------------------------------------------------------------------------
class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self):
        return self.now


def test_the_server_applies_its_retention_setting(serve, tmp_path):
    clock = Clock()
    db = str(tmp_path / "retained.sqlite3")
    first = serve(db=db, clock=clock)
    old = new_session(first)
    first.__exit__(None, None, None)
    clock.now += timedelta(days=8)
    second = serve(db=db, clock=clock, retention_days=7)   # the sweep runs at start-up
    for _ in range(100):                                     # bounded wait for that first sweep
        if second.get(f"/v1/sessions/{old}").status_code == 404:
            break
        threading.Event().wait(0.05)
    assert second.get(f"/v1/sessions/{old}").status_code == 404
    kept = new_session(second)
    assert second.get(f"/v1/sessions/{kept}").status_code == 200


# -- the clinic's own templates --------------------------------------------------------------------
def clinic_bot(folder, **templates):
    for name, text in templates.items():
        (folder / f"{name}.j2").write_text(text, encoding="utf-8")
    return Chatbot(today=lambda: TODAY, templates=str(folder), clinic="Clinic Rosa")


def test_a_clinic_template_replaces_the_built_in_one(serve, tmp_path):
    client = serve(bot=clinic_bot(tmp_path, greeting="Welcome to {{ clinic }}! Ask me anything."),
                   clinic="Clinic Rosa")
    session_id = new_session(client)
    assert say(client, session_id, "hello")["text"] == "Welcome to Clinic Rosa! Ask me anything."
    assert "Botox" in say(client, session_id, "How long does Botox take?")["text"]   # others built in
    assert "Clinic Rosa" in client.get("/").text


@pytest.mark.parametrize("attack", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.system('touch {marker}') }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('touch {marker}') }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
])
def test_a_sandbox_escape_in_a_clinic_template_fails_safely(serve, tmp_path, attack):
    marker = tmp_path / "escaped"
    folder = tmp_path / "templates"
    folder.mkdir()
    client = serve(bot=clinic_bot(folder, greeting=attack.replace("{marker}", str(marker))))
    session_id = new_session(client)
    response = client.post(f"/v1/sessions/{session_id}/messages", json={"text": "hello"})
    assert response.status_code == 500
    assert "class" not in error_of(response) and "subclasses" not in response.text
    assert not marker.exists()
    assert say(client, session_id, "How long does Botox take?")["sources"]   # the server goes on
    assert len(client.get(f"/v1/sessions/{session_id}").json()["transcript"]) == 2  # failed turn unsaved


# -- health and the OpenAPI document ---------------------------------------------------------------
def test_health_reports_ok_and_a_broken_database_as_503(serve, tmp_path):
    class BrokenStore(SQLiteStore):
        def check(self):
            raise OSError("disk gone")
    assert serve().get("/healthz").json() == {"status": "ok"}
    broken = serve(store=BrokenStore(str(tmp_path / "broken.sqlite3")))
    response = broken.get("/healthz")
    assert response.status_code == 503
    error_of(response)


def test_the_openapi_document_describes_exactly_the_routes_served(client):
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    served = set()
    for route in client.app.routes:
        if isinstance(route, Mount):
            continue
        path = route.path
        served |= {(path, method.lower()) for method in route.methods - {"HEAD"}}
    documented = {(path, method) for path, item in document["paths"].items()
                  for method in item if method != "parameters"}
    assert documented == served
    refs = re.findall(r'"#/components/schemas/(\w+)"', json.dumps(document))
    assert set(refs) <= document["components"]["schemas"].keys()


def test_the_documented_reply_fields_are_the_reply_object(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]["Reply"]
    session_id = new_session(client)
    assert set(schema["properties"]) == set(say(client, session_id, "hello"))


# -- `python -m chatbot serve` refusing to start -----------------------------------------------------
def serve_command(*arguments, environ=None):
    env = Environment(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO(),
                      environ=environ or {})
    status = cli.main(["serve", *arguments], env)
    return status, env.stdout.getvalue(), env.stderr.getvalue()


def test_serve_reports_a_busy_port_in_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, _, errors = serve_command("--port", str(port), "--db", ":memory:")
    assert status == cli.ExitStatus.ERROR
    assert errors.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in errors


@pytest.mark.parametrize("make_db", [
    lambda tmp: str(tmp / "no" / "such" / "folder" / "s.sqlite3"),
    lambda tmp: str(tmp),                                          # a folder, not a file
    lambda tmp: (tmp / "text.sqlite3").write_text("not a database " * 100) and str(tmp / "text.sqlite3"),
    lambda tmp: f"postgresql://chat:s3cret@/chatbot?host={tmp}&port=5999",   # no server there
])
def test_serve_reports_an_unusable_database_in_one_line(tmp_path, make_db):
    status, _, errors = serve_command("--db", make_db(tmp_path), "--port", "1")
    assert status == cli.ExitStatus.ERROR
    assert errors.count("\n") == 1 and "cannot use the database" in errors
    assert "s3cret" not in errors


@pytest.mark.parametrize("setup, words", [
    (lambda folder: None, "not a folder"),
    (lambda folder: folder.mkdir() or (folder / "greeting.j2").write_text("{% if %}"), "greeting.j2, line 1"),
])
def test_serve_reports_bad_clinic_templates_in_one_line(tmp_path, setup, words):
    folder = tmp_path / "templates"
    setup(folder)
    status, _, errors = serve_command("--templates", str(folder), "--db", ":memory:", "--port", "1")
    assert status == cli.ExitStatus.ERROR
    assert errors.count("\n") == 1 and words in errors


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_serve_reports_a_read_only_database_folder(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    status, _, errors = serve_command("--db", str(folder / "s.sqlite3"), "--port", "1")
    assert status == cli.ExitStatus.ERROR and "cannot use the database" in errors


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True),
                                            ("[::1]", True), ("localhost", True), ("0.0.0.0", False),
                                            ("::", False), ("192.0.2.10", False), ("desk.example", False)])
def test_serve_warns_about_a_missing_key_only_beyond_loopback(host, loopback):
    from chatbot.server import _loopback
    assert _loopback(host) is loopback


# -- defects found by a clinic's IT person (issue 12) ----------------------------------------------
@pytest.mark.parametrize("body", [b'{"text": "\\ud800"}', b'{"text": "hi \\udfff there"}',
                                  b'{"text": "nul \\u0000 inside"}'])
def test_text_no_database_can_store_is_a_422_not_a_500(client, body):
    session_id = new_session(client)
    response = client.post(f"/v1/sessions/{session_id}/messages", content=body, headers=JSON)
    assert response.status_code == 422
    assert "surrogate" in error_of(response)
    assert client.get(f"/v1/sessions/{session_id}").json()["transcript"] == []
    assert say(client, session_id, "hello")["text"]   # the session is unharmed


@pytest.mark.parametrize("limit", ["²", "①", "٣", "１０", "1²"])
def test_only_ascii_digits_are_a_number(client, limit):
    response = client.get("/v1/handoffs", params={"limit": limit})
    assert response.status_code == 422
    assert "whole number" in error_of(response)


@pytest.mark.parametrize("headers", [{}, {"content-type": "text/plain"},
                                     {"content-type": "application/x-www-form-urlencoded"},
                                     {"content-type": "multipart/form-data; boundary=x"},
                                     {"content-type": "application/jsonx"}])
def test_a_post_that_is_not_declared_json_is_a_415(client, headers):
    session_id = new_session(client)
    for path, body in (("/v1/sessions", b"{}"), (f"/v1/sessions/{session_id}/messages", b'{"text": "hi"}')):
        response = client.post(path, content=body, headers=headers)
        assert response.status_code == 415, (path, headers)
        assert "application/json" in error_of(response)
    assert client.get(f"/v1/sessions/{session_id}").json()["transcript"] == []


def test_json_with_a_charset_is_json(client):
    headers = {"content-type": "Application/JSON; charset=utf-8"}
    response = client.post("/v1/sessions", content=b"", headers=headers)
    assert response.status_code == 201


def failing_clinic(serve, tmp_path, **options):
    """A server whose clinic greeting template fails to render: "hello" gets a 500."""
    folder = tmp_path / "failing"
    folder.mkdir(exist_ok=True)
    return serve(bot=clinic_bot(folder, greeting="{{ no_such_variable }}"), **options)


def test_a_500_carries_the_security_and_cors_headers(serve, tmp_path):
    client = failing_clinic(serve, tmp_path, cors=["https://desk.example"])
    session_id = new_session(client)
    origin = {"Origin": "https://desk.example"}
    failed = client.post(f"/v1/sessions/{session_id}/messages", json={"text": "hello"}, headers=origin)
    fine = client.post(f"/v1/sessions/{session_id}/messages", json={"text": "How long does Botox take?"},
                       headers=origin)
    assert (failed.status_code, fine.status_code) == (500, 200)
    assert error_of(failed) == "Something went wrong on the server; the problem has been logged."
    for name in ("x-content-type-options", "referrer-policy", "cache-control", "access-control-allow-origin"):
        assert failed.headers.get(name) == fine.headers.get(name) is not None, name


def test_a_failure_is_logged_with_its_traceback_and_without_the_session_id(serve, tmp_path, caplog):
    client = failing_clinic(serve, tmp_path)
    session_id = new_session(client)
    with caplog.at_level("ERROR", logger="chatbot.server"):
        assert client.post(f"/v1/sessions/{session_id}/messages", json={"text": "hello"}).status_code == 500
    assert "POST /v1/sessions/{id}/messages failed" in caplog.text
    assert "no_such_variable" in caplog.text and session_id not in caplog.text


@pytest.mark.parametrize("path, masked", [
    ("/v1/sessions/q3KX0nXaS2mG1Qn2Zb8Gxw/messages", "/v1/sessions/{id}/messages"),
    ("/v1/sessions/q3KX0nXaS2mG1Qn2Zb8Gxw", "/v1/sessions/{id}"),
    ("/v1/sessions/q3KX0nXaS2mG1Qn2Zb8Gxw?x=1", "/v1/sessions/{id}?x=1"),
    ("/v1/sessions", "/v1/sessions"),
    ("/v1/handoffs?limit=5", "/v1/handoffs?limit=5"),
])
def test_session_ids_are_masked_in_logged_paths(path, masked):
    import logging

    from chatbot.server import _MaskSessionIds
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", path, "1.1", 200), None)
    assert _MaskSessionIds().filter(record)
    assert record.getMessage() == f'127.0.0.1:5000 - "GET {masked} HTTP/1.1" 200'


@pytest.mark.parametrize("template", [
    "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
    "{% macro twice(n) %}{% if n %}{{ twice(n - 1) }}{{ twice(n - 1) }}{% endif %}{% endmacro %}"
    "{{ twice(60) }}",
    "{{ 'x' * 50000000 }}",
    "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
    "{{ ns.s }}",
    "{% for i in range(99999) %}{{ i }} and some more words {% endfor %}",
    "{{ 'x'|center(50000000) }}",
    "{{ 10 ** 100000000 }}",
])
def test_a_clinic_template_that_runs_long_or_builds_too_much_fails_that_turn_only(serve, tmp_path, template,
                                                                                   caplog):
    folder = tmp_path / "templates"
    folder.mkdir()
    client = serve(bot=clinic_bot(folder, greeting=template))
    session_id = new_session(client)
    with caplog.at_level("ERROR", logger="chatbot.server"):
        response = client.post(f"/v1/sessions/{session_id}/messages", json={"text": "hello"})
    assert response.status_code == 500
    assert "TemplateBudgetExceeded" in caplog.text
    assert say(client, session_id, "How long does Botox take?")["sources"]   # the server goes on
    assert len(client.get(f"/v1/sessions/{session_id}").json()["transcript"]) == 2


def test_a_clinic_template_within_the_limits_renders_as_usual(serve, tmp_path):
    greeting = "{% for word in ['Welcome', 'to'] %}{{ word }} {% endfor %}{{ clinic ~ '!' }} {{ '=' * 3 }}"
    client = serve(bot=clinic_bot(tmp_path, greeting=greeting))
    assert say(client, new_session(client), "hello")["text"] == "Welcome to Clinic Rosa! ==="


@pytest.mark.parametrize("damage", [
    lambda path: os.remove(path),
    lambda path: open(path, "wb").close(),                                    # truncated to nothing
    lambda path: open(path, "r+b").write(b"this is not a database at all"),  # overwritten
    lambda path: os.replace(path + ".other", path),                          # another file put there
])
def test_health_is_503_when_the_database_file_is_damaged(serve, tmp_path, damage):
    db = str(tmp_path / "health.sqlite3")
    SQLiteStore(db + ".other").close()
    client = serve(db=db)
    say(client, new_session(client), "hello")
    assert client.get("/healthz").status_code == 200
    damage(db)
    response = client.get("/healthz")
    assert response.status_code == 503
    error_of(response)


def test_the_page_may_not_be_framed_by_another_site(client):
    policy = client.get("/").headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy


def test_a_session_read_back_has_what_a_page_needs_to_redraw_it(client):
    session_id = new_session(client)
    asked = say(client, session_id, "I'm booked for fillers on 2026-12-04")
    stopped = say(client, session_id, "yes, I am pregnant")
    transcript = client.get(f"/v1/sessions/{session_id}").json()["transcript"]
    bots = [m for m in transcript if m["role"] == "bot"]
    assert [(m["sources"], m["handoff"], m["follow_up"]) for m in bots] == [
        (asked["sources"], False, "pregnant"), (stopped["sources"], True, stopped["follow_up"])]
    assert all(set(m) == {"role", "text", "at"} for m in transcript if m["role"] == "user")
