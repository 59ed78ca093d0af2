"""The OpenAPI document: a valid OpenAPI 3.1 document, and real answers match it.

Each request of a tour (every route, every documented status, 405, 415 and 500 included) is
made against a live app; its status must be documented for that path and method, and its JSON
body must validate against the documented schema.
"""
import json
import re
import warnings
from datetime import date
from importlib import resources

import jsonschema
import pytest
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from chatbot import Chatbot
from chatbot.server import MAX_BODY, ServerConfig, create_app
from chatbot.store import SQLiteStore

TODAY = date(2026, 11, 27)
DOCUMENT = json.loads((resources.files("chatbot") / "static" / "openapi.json").read_text(encoding="utf-8"))
BASE = "urn:chatbot-openapi"
REGISTRY = Registry().with_resource(BASE, Resource.from_contents(DOCUMENT, default_specification=DRAFT202012))
JSON = {"content-type": "application/json"}


def test_the_document_is_valid_openapi_3_1():
    validate(DOCUMENT)
    assert DOCUMENT["openapi"] == "3.1.0"


def _operation(path: str, method: str) -> tuple[str, dict]:
    """The documented path template matching a concrete path, and its operation (or {} when the
    path does not take this method: a 405 is then looked up under any of its operations)."""
    for template, item in DOCUMENT["paths"].items():
        pattern = "^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            operations = {m: o for m, o in item.items() if m != "parameters"}
            return template, operations.get(method) or next(iter(operations.values()))
    raise AssertionError(f"{path} is not in the document")


def _resolve(node: dict) -> tuple[dict, str]:
    """A response object, following a $ref; also its JSON pointer in the document."""
    pointer = node.get("$ref", "")
    if pointer:
        node = DOCUMENT
        for part in pointer[2:].split("/"):
            node = node[part]
    return node, pointer


def assert_documented(method: str, response) -> None:
    path = response.request.url.path
    template, operation = _operation(path, method.lower())
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {path}: {status} is not documented for {template}"
    answer, pointer = _resolve(operation["responses"][status])
    content = answer.get("content", {})
    if response.status_code == 204:
        assert not response.content and not content
        return
    kind = response.headers["content-type"].partition(";")[0]
    assert kind in content, f"{method} {path} {status}: {kind} is not documented"
    if "schema" not in content[kind]:
        return
    if pointer:
        location = pointer + f"/content/{kind.replace('/', '~1')}/schema"
    else:
        escaped = template.replace("~", "~0").replace("/", "~1")
        location = (f"#/paths/{escaped}/{method.lower()}/responses/{status}/content/"
                    f"{kind.replace('/', '~1')}/schema")
    validator = jsonschema.Draft202012Validator({"$ref": BASE + location}, registry=REGISTRY)
    errors = [error.message for error in validator.iter_errors(response.json())]
    assert not errors, f"{method} {path} {status}: {errors}"


@pytest.fixture(scope="module")
def clients(tmp_path_factory):
    folder = tmp_path_factory.mktemp("openapi")
    (folder / "templates").mkdir()
    (folder / "templates" / "greeting.j2").write_text("{{ no_such_variable }}", encoding="utf-8")
    failing = Chatbot(today=lambda: TODAY, templates=str(folder / "templates"))

    class BrokenStore(SQLiteStore):
        def check(self):
            raise OSError("disk gone")
    apps = {"open": create_app(ServerConfig(db=str(folder / "a.sqlite3")), today=lambda: TODAY),
            "key": create_app(ServerConfig(db=str(folder / "b.sqlite3"), api_key="k", staff_key="s"),
                              today=lambda: TODAY),
            "failing": create_app(ServerConfig(db=str(folder / "c.sqlite3")), bot=failing),
            "broken": create_app(ServerConfig(), store=BrokenStore(str(folder / "d.sqlite3")),
                                 today=lambda: TODAY)}
    opened = {name: TestClient(app, raise_server_exceptions=False, client=("127.0.0.1", 50000))
              for name, app in apps.items()}
    opened["remote"] = TestClient(apps["open"], raise_server_exceptions=False)
    for client in opened.values():
        client.__enter__()
    yield opened
    for client in opened.values():
        client.__exit__(None, None, None)


def test_every_answer_of_a_tour_of_the_api_is_as_documented(clients):
    client = clients["open"]
    seen = set()

    def call(method, path, which=client, **options):
        response = which.request(method, path, **options)
        assert_documented(method, response)
        seen.add(response.status_code)
        return response

    session_id = call("POST", "/v1/sessions", json={}).json()["id"]
    messages = f"/v1/sessions/{session_id}/messages"
    call("POST", messages, json={"text": "I'm booked for fillers on 2026-12-04"})
    call("POST", messages, json={"text": "yes, I am pregnant"})
    for path in ("/", "/healthz", "/openapi.json", "/v1/sources", "/v1/handoffs", "/v1/handoffs?limit=2",
                 f"/v1/sessions/{session_id}"):
        assert call("GET", path).status_code == 200
    for body, status in ((b"not json", 400), (b"{}", 422), (b'{"text": "\\ud800"}', 422),
                         (json.dumps({"text": "x" * MAX_BODY}).encode(), 413)):
        assert call("POST", messages, content=body, headers=JSON).status_code == status
    text = {"content-type": "text/plain"}
    assert call("POST", messages, content=b'{"text": "hi"}', headers=text).status_code == 415
    assert call("POST", "/v1/sessions", content=b"{}", headers=text).status_code == 415
    assert call("GET", "/v1/handoffs?limit=①").status_code == 422
    for method, path in (("PUT", "/v1/sessions"), ("GET", messages), ("PATCH", f"/v1/sessions/{session_id}"),
                         ("POST", "/healthz"), ("DELETE", "/v1/handoffs")):
        assert call(method, path).status_code == 405
    handoff = f"/v1/handoffs/{session_id}"
    staff_messages = f"/v1/sessions/{session_id}/staff-messages"
    assert call("GET", "/v1/handoffs?state=waiting").status_code == 200
    assert call("GET", "/staff").status_code == 200
    assert call("GET", f"/v1/sessions/{session_id}/updates?after=0").status_code == 200
    assert call("GET", f"/v1/handoffs/{session_id}/updates?after=0").status_code == 200
    assert call("GET", f"/v1/sessions/{session_id}/updates?wait=99").status_code == 422
    assert call("GET", "/v1/handoffs/missing/updates").status_code == 404
    assert call("POST", "/connectors/chatwoot", json={}).status_code == 404   # not set up
    assert call("POST", f"/v1/sessions/{session_id}/contact", json={"name": "Rosa"}).status_code == 404
    assert call("GET", "/v1/handoffs?state=lost").status_code == 422
    assert call("GET", handoff).status_code == 200
    assert call("POST", staff_messages, json={"text": "Hello"}).status_code == 409
    assert call("POST", handoff + "/claim", json={}).status_code == 422
    assert call("POST", handoff + "/claim", json={"staff": "Ana"}).status_code == 200
    assert call("POST", handoff + "/claim", json={"staff": "Ben"}).status_code == 409
    assert call("POST", staff_messages, json={"text": "Hello, I am Ana."}).status_code == 201
    assert call("POST", staff_messages, json={"text": ""}).status_code == 422
    assert call("POST", staff_messages, json={"text": "x" * MAX_BODY}).status_code == 413
    assert call("POST", staff_messages, content=b"nope", headers=JSON).status_code == 400
    text_plain = {"content-type": "text/plain"}
    assert call("POST", handoff + "/resolve", content=b"{}", headers=text_plain).status_code == 415
    assert call("POST", messages, json={"text": "thank you"}).status_code == 202
    assert call("GET", f"/v1/sessions/{session_id}").status_code == 200
    assert call("POST", handoff + "/release", json={"staff": "Ana"}).status_code == 200
    assert call("POST", handoff + "/resolve", json={}).status_code == 409
    assert call("POST", "/v1/handoffs/missing/claim", json={"staff": "Ana"}).status_code == 404
    assert call("GET", "/v1/handoffs/missing").status_code == 404
    assert call("GET", "/v1/handoffs", which=clients["remote"]).status_code == 403
    assert call("POST", "/v1/sessions", which=clients["key"], json={}).status_code == 401
    assert call("GET", "/v1/handoffs", which=clients["key"]).status_code == 401
    assert call("GET", "/healthz", which=clients["broken"]).status_code == 503
    failing = clients["failing"]
    failing_id = call("POST", "/v1/sessions", which=failing, json={}).json()["id"]
    assert call("POST", f"/v1/sessions/{failing_id}/messages", which=failing,
                json={"text": "hello"}).status_code == 500
    assert call("DELETE", f"/v1/sessions/{session_id}").status_code == 204
    for method, path in (("GET", f"/v1/sessions/{session_id}"), ("DELETE", f"/v1/sessions/{session_id}"),
                         ("POST", messages)):
        assert call(method, path, **({"json": {"text": "hi"}} if method == "POST" else {})).status_code == 404
    assert seen == {200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 413, 415, 422, 500, 503}


def test_every_operation_documents_405_and_500_and_every_post_415():
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            expected = {"405", "500"} | ({"415"} if method == "post" else set())
            assert expected <= operation["responses"].keys(), (path, method)
