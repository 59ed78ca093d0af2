"""Contact details with consent (serve --ask-contact): a person who asked for a human may leave a
name and a phone number or email; they are kept with the session, shown to staff, and deleted
with it."""
import warnings
from datetime import date

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from test_openapi import assert_documented

from chatbot.server import ServerConfig, create_app

TODAY = date(2026, 11, 27)
GOOD = {"name": "Rosa", "phone": "+44 20 7946 0000", "consent": True}


@pytest.fixture
def serve(bot, tmp_path):
    opened = []

    def make(db=None, **options):
        app = create_app(ServerConfig(db=db or str(tmp_path / f"s{len(opened)}.sqlite3"), **options), bot=bot,
                         today=lambda: TODAY)
        client = TestClient(app, raise_server_exceptions=False, client=("127.0.0.1", 50000))
        client.__enter__()
        opened.append(client)
        return client
    yield make
    for client in opened:
        client.__exit__(None, None, None)


def asked_for_someone(client) -> str:
    session_id = client.post("/v1/sessions", json={}).json()["id"]
    client.post(f"/v1/sessions/{session_id}/messages", json={"text": "can I speak to someone?"})
    return session_id


def test_contact_details_are_kept_shown_to_staff_and_deleted_with_the_session(serve, database):
    client = serve(db=database, ask_contact=True)
    session_id = asked_for_someone(client)
    given = client.post(f"/v1/sessions/{session_id}/contact", json=GOOD)
    assert given.status_code == 201
    assert_documented("POST", given)
    assert_documented("GET", client.get(f"/v1/sessions/{session_id}"))
    assert_documented("GET", client.get(f"/v1/handoffs/{session_id}"))
    assert given.json()["name"] == "Rosa" and given.json()["email"] is None and given.json()["consent_at"]
    assert client.get(f"/v1/sessions/{session_id}").json()["contact"]["phone"] == "+44 20 7946 0000"
    assert client.get(f"/v1/handoffs/{session_id}").json()["contact"]["name"] == "Rosa"
    client.post(f"/v1/sessions/{session_id}/contact", json={"name": "Rosa M", "email": "rosa@example.org",
                                                            "consent": True})
    assert client.get(f"/v1/handoffs/{session_id}").json()["contact"]["email"] == "rosa@example.org"
    assert client.delete(f"/v1/sessions/{session_id}").status_code == 204
    assert client.post(f"/v1/sessions/{session_id}/contact", json=GOOD).status_code == 404


@pytest.mark.parametrize("body, words", [
    ({**GOOD, "consent": False}, '"consent" must be true'),
    ({"name": "Rosa", "phone": "+44 20 7946 0000"}, '"consent" must be true'),
    ({**GOOD, "name": ""}, '"name"'),
    ({**GOOD, "name": "x" * 101}, '"name"'),
    ({"name": "Rosa", "consent": True}, 'Give a "phone" or an "email"'),
    ({**GOOD, "phone": "call me"}, '"phone" does not look like a phone number'),
    ({**GOOD, "email": "rosa-at-example"}, '"email" does not look like an email address'),
    (["Rosa"], "JSON object"),
])
def test_bad_contact_details_get_a_clear_422(serve, body, words):
    client = serve(ask_contact=True)
    session_id = asked_for_someone(client)
    response = client.post(f"/v1/sessions/{session_id}/contact", json=body)
    assert response.status_code == 422 and words in response.json()["error"]
    assert client.get(f"/v1/sessions/{session_id}").json()["contact"] is None


def test_a_clinic_that_does_not_ask_takes_no_contact_details(serve):
    client = serve()
    session_id = asked_for_someone(client)
    response = client.post(f"/v1/sessions/{session_id}/contact", json=GOOD)
    assert response.status_code == 404 and "does not take contact details" in response.json()["error"]
    assert 'id="contact"' not in client.get("/").text
    assert 'id="contact"' in serve(ask_contact=True).get("/").text
