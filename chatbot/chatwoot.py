"""The Chatwoot connector: the chatbot as an agent bot of a self-hosted Chatwoot (the open-source
help desk), built on Chatwoot's published agent-bot API.

Chatwoot POSTs its agent-bot events to `/connectors/chatwoot` (the bot's outgoing URL). For an
incoming message of a conversation the bot owns (status `pending`), the connector answers it from
one bot session per Chatwoot conversation, and replies through Chatwoot's message API. It ignores
outgoing, private and agents' messages, conversations an agent holds (any other status), and a
message id it has seen (Chatwoot may deliver one twice). When an answer asks for a person, it also
posts the reason as a private note and sets the conversation `open`, so that Chatwoot's agents
take over; the session's handoff is then resolved, by "Chatwoot".

The calls to Chatwoot go through the store's outbox, like webhook events: the background sender
delivers them, and retries them with backoff while Chatwoot is down. An event of an unexpected
shape gets 200 with nothing done and one log line, never an error Chatwoot would retry.

Chatwoot's routes used (header `api_access_token: <the agent bot's token>`):
  POST /api/v1/accounts/{account_id}/conversations/{conversation_id}/messages
       {"content": "...", "message_type": "outgoing", "private": false}
  POST /api/v1/accounts/{account_id}/conversations/{conversation_id}/toggle_status
       {"status": "open"}
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

KIND = "chatwoot"        # the outbox target and the store's connector kind
log = logging.getLogger("chatbot.chatwoot")


class ChatwootError(ValueError):
    """A Chatwoot setting that cannot work; the message is one line for the person starting serve."""


def check_setup(url: str, token: str | None) -> str:
    """The base URL without a trailing slash, if it is http(s) and a bot token is set."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChatwootError(f"--chatwoot-url {url}: not an http:// or https:// URL")
    if not token:
        raise ChatwootError("--chatwoot-url needs CHATWOOT_BOT_TOKEN, the access token of the agent bot "
                            "(Chatwoot: Settings > Bots, or the agent_bots API)")
    return url.rstrip("/")


@dataclass(frozen=True)
class Incoming:
    """What the connector reads of Chatwoot's message_created payload."""

    account_id: int
    conversation_id: int
    message_id: int
    content: str | None
    message_type: str
    private: bool
    sender_type: str | None
    status: str


def read_event(payload) -> Incoming | str:
    """The message of a message_created event, or why the payload is not one (for the log)."""
    if not isinstance(payload, dict):
        return "not a JSON object"
    if payload.get("event") != "message_created":
        return f"event {str(payload.get('event'))[:40]!r} is not message_created"
    conversation, account = payload.get("conversation"), payload.get("account")
    sender = payload.get("sender")
    try:
        return Incoming(account_id=_whole(account["id"]), conversation_id=_whole(conversation["id"]),
                        message_id=_whole(payload["id"]), content=_text(payload.get("content")),
                        message_type=str(payload["message_type"]), private=bool(payload.get("private")),
                        sender_type=sender.get("type") if isinstance(sender, dict) else None,
                        status=str(conversation["status"]))
    except (KeyError, TypeError, ValueError) as error:
        return f"no usable {error}" if isinstance(error, KeyError) else "a field of the wrong type"


def _whole(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(value)
    return int(value)


def _text(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(value)
    return value


class Connector:
    """Turns Chatwoot's events into turns of bot sessions, and the answers into Chatwoot calls."""

    def __init__(self, base_url: str, token: str, store, answer: Callable[[str, str], dict | None],
                 new_session: Callable[[], str]):
        self.base_url, self.token, self.store = base_url, token, store
        self._answer, self._new_session = answer, new_session

    def handle(self, payload) -> tuple[str, str]:
        """(outcome, why): answered, ignored or duplicate. Never raises for Chatwoot's sake."""
        event = read_event(payload)
        if isinstance(event, str):
            log.warning("chatwoot: ignored an event of an unexpected shape (%s)", event)
            return "ignored", f"unexpected shape: {event}"
        why = _not_for_the_bot(event)
        if why:
            return "ignored", why
        if not self.store.first_sight(KIND, f"{event.account_id}/{event.message_id}"):
            return "duplicate", f"message {event.message_id} was answered already"
        conversation = f"{event.account_id}/{event.conversation_id}"
        session_id = self.store.linked_session(KIND, conversation)
        if session_id is None:
            session_id = self._new_session()
            self.store.link_session(KIND, conversation, session_id)
        try:
            reply = self._answer(session_id, event.content)
        except Exception:   # a clinic template that breaks, say: logged, and Chatwoot is not asked again
            log.exception("chatwoot: conversation %s: the turn failed", conversation)
            return "ignored", "the turn failed on the server; the problem is logged"
        if reply is None:
            return "ignored", "a staff member holds this conversation on the staff page"
        self._send(event, {"content": reply["text"], "message_type": "outgoing", "private": False})
        if reply["handoff"]:
            self._send(event, {"content": _note(reply), "message_type": "outgoing", "private": True})
            self._call(event, "toggle_status", {"status": "open"})
            self.store.move_handoff(session_id, "resolve", "Chatwoot")
        return "answered", f"answered in conversation {event.conversation_id}"

    def request(self, event) -> tuple[str, bytes, dict]:
        """The HTTP request (url, body, headers) for an outbox row of this connector."""
        call = json.loads(event.body)
        return (self.base_url + call["path"], json.dumps(call["json"]).encode(),
                {"Content-Type": "application/json", "api_access_token": self.token})

    def _send(self, event: Incoming, message: dict) -> None:
        self._call(event, "messages", message)

    def _call(self, event: Incoming, action: str, body: dict) -> None:
        path = f"/api/v1/accounts/{event.account_id}/conversations/{event.conversation_id}/{action}"
        self.store.enqueue(KIND, f"chatwoot.{action}", {"path": path, "json": body})


def _not_for_the_bot(event: Incoming) -> str | None:
    if event.message_type != "incoming":
        return f"a {event.message_type} message (the bot answers only incoming ones)"
    if event.private:
        return "a private note"
    if event.sender_type not in (None, "contact"):
        return f"written by a {event.sender_type}, not the contact"
    if event.status != "pending":
        return f"the conversation is {event.status}: an agent holds it"
    if not event.content or not event.content.strip():
        return "no text (an attachment, say)"
    if "\x00" in event.content:
        return "text with a NUL character"
    return None


def _shown(value) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _note(reply: dict) -> str:
    """The private note for Chatwoot's agents: why a person is needed, and what the person said."""
    given = (reply.get("facts") or {}).items()
    facts = "; ".join(f"{name.replace('_', ' ')}: {_shown(value)}" for name, value in given)
    return f"The chatbot hands this conversation to a person. Its last answer:\n{reply['text']}" + \
        (f"\nWhat the person has told it: {facts}" if facts else "")
