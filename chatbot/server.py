"""The HTTP API (v1) and the web chat page: a Starlette app, served by uvicorn.

`create_app()` builds the app around one Chatbot and one Store; `run()` is `python -m chatbot
serve`. Turns run in a thread pool (a turn is synchronous, CPU-bound work), never on the event
loop. A session's messages are answered one at a time, in arrival order, by an asyncio lock per
session; across worker processes the store's version check, and its lock for a turn that keeps
losing the race, do the same job (see chatbot/store.py). The OpenAPI document is hand-written
data: chatbot/static/openapi.json.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import json
import logging
import os
import re
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from importlib import resources

import anyio
import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from chatbot import chatwoot, commands, webhooks
from chatbot.store import (
    HANDOFF_MOVES,
    HANDOFF_STATES,
    HandoffConflict,
    NoSuchSession,
    Store,
    StoreUnavailable,
    Turn,
    open_store,
    shown_database,
    utc_now,
)

MAX_BODY = 16 * 1024              # bytes of a request body; more is refused with 413
CONNECTOR_BODY_MAX = 1024 * 1024  # ... of a help desk's event, which carries its whole conversation
OPTIMISTIC_ATTEMPTS = 3           # lost races with other processes before a turn takes the lock
HANDOFF_LIMIT, HANDOFF_MAX = 50, 500
# Long polling for news of a session (a staff message, a handoff change): the longest a request
# waits, by default and at most, and how often it looks at the database for changes made by other
# worker processes (changes made in this process wake it at once).
UPDATES_WAIT, UPDATES_WAIT_MAX, UPDATES_RECHECK = 25, 60, 1.0
# Turns answered at once by one process. A turn is CPU-bound Python: more threads than this only
# share the GIL, so every answer comes later; waiting turns queue first come, first served.
TURN_THREADS = int(os.environ.get("CHATBOT_TURN_THREADS", "2"))
CONFIG_VARIABLE = "CHATBOT_SERVER_CONFIG"   # how `serve --workers N` hands its options to workers
PARENT_VARIABLE = "CHATBOT_SERVE_PARENT"    # ... and its process id, so that they die with it
STATIC = resources.files("chatbot") / "static"
# The page loads nothing but its own script and style, and talks only to its own origin.
# No other site may show it in a frame (clickjacking).
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
               "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SESSION_IN_PATH = re.compile(r"(/v1/(?:sessions|handoffs)/)[^/?#\s]+")
# The routes for staff: CHATBOT_STAFF_KEY opens them, the public CHATBOT_API_KEY never does.
STAFF_PATH = re.compile(r"^/(?:staff(?:$|/)|v1/handoffs(?:$|/)|v1/sessions/[^/]+/staff-messages$)")
STAFF_NAME_MAX = 100   # characters of a staff member's name
log = logging.getLogger("chatbot.server")


@dataclass
class ServerConfig:
    """The options of `serve` that shape the app (host, port and workers only shape the process)."""

    db: str = "chatbot.sqlite3"
    templates: str | None = None
    clinic: str | None = None
    cors: list[str] = field(default_factory=list)
    retention_days: float | None = None
    webhooks: list[str] = field(default_factory=list)
    chatwoot_url: str | None = None
    ask_contact: bool = False
    api_key: str | None = field(default=None, repr=False)
    staff_key: str | None = field(default=None, repr=False)
    webhook_secret: str | None = field(default=None, repr=False)
    chatwoot_token: str | None = field(default=None, repr=False)
    chatwoot_webhook_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_args(cls, args, environ) -> ServerConfig:
        return cls(db=args.db, templates=args.templates, clinic=args.clinic, cors=list(args.cors),
                   retention_days=args.retention_days, webhooks=list(getattr(args, "webhook", [])),
                   chatwoot_url=getattr(args, "chatwoot_url", None),
                   ask_contact=bool(getattr(args, "ask_contact", False)), **_keys(environ))

    def to_json(self) -> str:
        """The options for worker processes; the keys stay in their environment variables."""
        return json.dumps({k: v for k, v in asdict(self).items() if k not in _SECRETS})

    @classmethod
    def from_json(cls, text: str, environ) -> ServerConfig:
        return cls(**json.loads(text), **_keys(environ))


# ServerConfig's secrets and the environment variables they come from (never in its JSON).
_SECRETS = {"api_key": "CHATBOT_API_KEY", "staff_key": "CHATBOT_STAFF_KEY",
            "webhook_secret": "CHATBOT_WEBHOOK_SECRET", "chatwoot_token": "CHATWOOT_BOT_TOKEN",
            "chatwoot_webhook_token": "CHATWOOT_WEBHOOK_TOKEN"}


def _keys(environ) -> dict:
    return {name: environ.get(variable, "").strip() or None for name, variable in _SECRETS.items()}


# -- the app ------------------------------------------------------------------------------------
def create_app(config: ServerConfig, bot=None, store: Store | None = None,
               today: Callable[[], date] | None = None,
               clock: Callable[[], datetime] = utc_now) -> Starlette:
    """The ASGI app. Without `bot` or `store` it builds them from `config` (and then owns the store:
    it is closed when the app shuts down)."""
    if bot is None:
        from chatbot.session import Chatbot
        bot = Chatbot(today=today, templates=config.templates, clinic=config.clinic)
    owns_store = store is None
    if store is None:
        store = open_store(config.db, clock=clock)
    _mask_session_ids_in_access_log()
    sender = None
    if config.webhooks:
        if not config.webhook_secret:
            raise ValueError("webhooks need a signing secret (CHATBOT_WEBHOOK_SECRET)")
        store.event_targets = tuple(config.webhooks)
    api = _Api(config, bot, store, clock)
    if config.chatwoot_url:
        api.chatwoot = chatwoot.Connector(chatwoot.check_setup(config.chatwoot_url, config.chatwoot_token),
                                          config.chatwoot_token, store, api._answer,
                                          lambda: store.create(bot.session().state))
    if config.webhooks or api.chatwoot:
        connectors = {chatwoot.KIND: api.chatwoot.request} if api.chatwoot else {}
        sender = api.sender = webhooks.Sender(store, config.webhook_secret, clock=clock,
                                              connectors=connectors)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        sweeper = asyncio.create_task(api.sweep_forever()) if config.retention_days is not None else None
        if sender:
            sender.start()
        try:
            yield
        finally:
            if sender:
                await run_in_threadpool(sender.stop)
            if sweeper:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
            if owns_store:
                store.close()

    routes = [
        Route("/", api.page, methods=["GET"]),
        Route("/staff", api.staff_page, methods=["GET"]),
        Route("/healthz", api.health, methods=["GET"]),
        Route("/openapi.json", api.openapi, methods=["GET"]),
        Route("/v1/sessions", api.create_session, methods=["POST"]),
        Route("/v1/sessions/{id}", api.get_session, methods=["GET"]),
        Route("/v1/sessions/{id}", api.delete_session, methods=["DELETE"]),
        Route("/v1/sessions/{id}/messages", api.post_message, methods=["POST"]),
        Route("/v1/sessions/{id}/updates", api.session_updates, methods=["GET"]),
        Route("/v1/sessions/{id}/contact", api.post_contact, methods=["POST"]),
        Route("/v1/sessions/{id}/staff-messages", api.post_staff_message, methods=["POST"]),
        Route("/v1/handoffs", api.handoffs, methods=["GET"]),
        Route("/v1/handoffs/{id}", api.get_handoff, methods=["GET"]),
        Route("/v1/handoffs/{id}/updates", api.handoff_updates, methods=["GET"]),
        *[Route(f"/v1/handoffs/{{id}}/{action}", api.move_handoff, methods=["POST"], name=action)
          for action in HANDOFF_MOVES],
        Route("/v1/sources", api.sources, methods=["GET"]),
        Route("/connectors/chatwoot", api.chatwoot_event, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=os.fspath(STATIC)), name="static"),
    ]
    middleware = [Middleware(_SecurityHeaders)]
    if config.cors:
        # Outside the key check, so a browser's preflight (which never carries the key) succeeds.
        middleware.append(Middleware(CORSMiddleware, allow_origins=config.cors,
                                     allow_methods=["GET", "POST", "DELETE"],
                                     allow_headers=["Authorization", "Content-Type"], max_age=600))
    middleware.append(Middleware(_RequireStaff, key=config.staff_key))
    if config.api_key:
        middleware.append(Middleware(_RequireKey, key=config.api_key))
    middleware.append(Middleware(_ServerErrors))   # innermost: its 500s get every header above
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                     exception_handlers={HTTPException: _http_error, Exception: _server_error})


def app_from_environment() -> Starlette:
    """`uvicorn --factory chatbot.server:app_from_environment`: how each of several workers builds
    its own app, from CHATBOT_SERVER_CONFIG (JSON of ServerConfig), CHATBOT_API_KEY and
    CHATBOT_TODAY."""
    from chatbot.environment import today_from_env
    _die_with_parent(os.environ.get(PARENT_VARIABLE))
    config = ServerConfig.from_json(os.environ.get(CONFIG_VARIABLE, "{}"), os.environ)
    return create_app(config, today=lambda: today_from_env(os.environ))


class _Api:
    """The endpoints, around one Chatbot and one Store."""

    def __init__(self, config: ServerConfig, bot, store: Store, clock: Callable[[], datetime]):
        self.config, self.bot, self.store, self.clock = config, bot, store, clock
        self.sender: webhooks.Sender | None = None      # set when webhooks or a connector are
        self.chatwoot: chatwoot.Connector | None = None
        self.queues = _SessionQueues()
        self.changes = _Changes()
        self._limiter: anyio.CapacityLimiter | None = None
        self._page = _page_template().render(clinic=config.clinic or "", ask_contact=config.ask_contact)
        self._staff_page = _page_template("staff.html").render(clinic=config.clinic or "")
        self._openapi = json.loads((STATIC / "openapi.json").read_text(encoding="utf-8"))

    async def page(self, request: Request) -> Response:
        return HTMLResponse(self._page, headers={"Content-Security-Policy": PAGE_POLICY})

    async def staff_page(self, request: Request) -> Response:
        return HTMLResponse(self._staff_page, headers={"Content-Security-Policy": PAGE_POLICY})

    async def health(self, request: Request) -> Response:
        try:
            await run_in_threadpool(self.store.check)
        except Exception:
            log.exception("health check: the database is unavailable")
            return JSONResponse({"error": "The database is unavailable."}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(self._openapi)

    async def create_session(self, request: Request) -> Response:
        _require_json(request)   # the body may be empty: nothing in it is used
        session_id = await run_in_threadpool(self.store.create, self.bot.session().state)
        return JSONResponse({"id": session_id}, status_code=201,
                            headers={"Location": f"/v1/sessions/{session_id}"})

    async def get_session(self, request: Request) -> Response:
        session_id = request.path_params["id"]
        stored = await run_in_threadpool(self.store.get, session_id)
        if stored is None:
            raise _no_such_session()
        transcript = await run_in_threadpool(self.store.transcript, session_id)
        return JSONResponse({"id": session_id, "facts": stored.state.get("facts", {}),
                             "handoff": {"state": stored.handoff, "staff": stored.handoff_staff},
                             "contact": await run_in_threadpool(self.store.contact, session_id),
                             "transcript": transcript})

    async def delete_session(self, request: Request) -> Response:
        if not await run_in_threadpool(self.store.delete, request.path_params["id"]):
            raise _no_such_session()
        return Response(status_code=204)

    async def post_message(self, request: Request) -> Response:
        _require_json(request)
        text = _message_text(await _json_body(request))
        session_id = request.path_params["id"]
        async with self.queues.hold(session_id):
            reply = await anyio.to_thread.run_sync(self._answer, session_id, text,
                                                   limiter=self._turn_threads())
        self._changed(session_id)
        if reply is None:   # a person holds the conversation: the message is theirs to answer
            stored = await run_in_threadpool(self.store.get, session_id)
            holder = stored.handoff_staff if stored else None
            return JSONResponse({"handoff": {"state": "claimed", "staff": holder}}, status_code=202)
        return JSONResponse(reply)

    async def post_contact(self, request: Request) -> Response:
        """The person's name and phone number or email, given with their consent (--ask-contact)."""
        if not self.config.ask_contact:
            raise HTTPException(404, "This clinic does not take contact details here.")
        _require_json(request)
        name, phone, email = _contact(await _json_body(request))
        try:
            contact = await run_in_threadpool(self.store.save_contact, request.path_params["id"],
                                              name, phone, email)
        except NoSuchSession:
            raise _no_such_session() from None
        return JSONResponse(contact, status_code=201)

    async def handoffs(self, request: Request) -> Response:
        limit = _limit(request.query_params.get("limit"))
        states = _states(request.query_params.get("state"))
        return JSONResponse({"handoffs": await run_in_threadpool(self.store.handoffs, limit, states)})

    async def get_handoff(self, request: Request) -> Response:
        session_id = request.path_params["id"]
        handoff = await run_in_threadpool(self.store.handoff, session_id)
        if handoff is None:
            raise _no_such_session()
        handoff["transcript"] = await run_in_threadpool(self.store.transcript, session_id)
        return JSONResponse(handoff)

    async def move_handoff(self, request: Request) -> Response:
        """claim, resolve or release: the action is the route's last path segment."""
        _require_json(request)
        action = request.url.path.rsplit("/", 1)[1]
        staff = _staff_name(await _json_body(request), required=action == "claim")
        session_id = request.path_params["id"]
        try:
            handoff = await run_in_threadpool(self.store.move_handoff, session_id, action, staff)
        except NoSuchSession:
            raise _no_such_session() from None
        except HandoffConflict as conflict:
            raise HTTPException(409, str(conflict)) from None
        self._changed(session_id)
        return JSONResponse(handoff)

    async def post_staff_message(self, request: Request) -> Response:
        _require_json(request)
        text = _message_text(await _json_body(request), example='e.g. {"text": "Hello, I am Ana."}')
        session_id = request.path_params["id"]
        try:
            message = await run_in_threadpool(self.store.add_staff_message, session_id, text)
        except NoSuchSession:
            raise _no_such_session() from None
        except HandoffConflict as conflict:
            raise HTTPException(409, str(conflict)) from None
        self._changed(session_id)
        return JSONResponse(message, status_code=201)

    async def chatwoot_event(self, request: Request) -> Response:
        """An agent-bot event from Chatwoot (chatbot/chatwoot.py). Whatever it holds, the answer is
        200 with what was done, so that Chatwoot never retries a message it cannot improve."""
        if self.chatwoot is None:
            raise HTTPException(404, "The Chatwoot connector is not set up: serve --chatwoot-url URL with "
                                     "CHATWOOT_BOT_TOKEN.")
        expected = self.config.chatwoot_webhook_token
        given = request.query_params.get("token", "")
        if expected and not secrets.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(401, "This Chatwoot event does not carry the connector's token (?token=...).")
        try:
            payload = await _json_body(request, limit=CONNECTOR_BODY_MAX)
        except HTTPException as refused:
            payload = f"unreadable: {refused.detail}"   # read_event reports it as an unexpected shape
        outcome, why = await anyio.to_thread.run_sync(self.chatwoot.handle, payload,
                                                      limiter=self._turn_threads())
        if self.sender:
            self.sender.wake()
        return JSONResponse({"status": outcome, "reason": why})

    async def session_updates(self, request: Request) -> Response:
        """For the person's page: the messages after the `after`th and the handoff, as soon as there
        is a message or the handoff is no longer `state` (long polling)."""
        return JSONResponse(await self._updates(request, staff=False))

    async def handoff_updates(self, request: Request) -> Response:
        """The same for the staff's conversation view, with the handoff's reason, facts and changes."""
        return JSONResponse(await self._updates(request, staff=True))

    async def _updates(self, request: Request, staff: bool) -> dict:
        session_id = request.path_params["id"]
        query = request.query_params
        after = _whole(query.get("after"), "after", 0, 10**9, default=0)
        wait = _whole(query.get("wait"), "wait", 0, UPDATES_WAIT_MAX, default=UPDATES_WAIT)
        known = query.get("state")
        if known is not None and known not in HANDOFF_STATES:
            raise HTTPException(422, '"state" must be none, waiting, claimed or resolved.')
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            stored = await run_in_threadpool(self.store.get, session_id)
            if stored is None:
                raise _no_such_session()
            messages = await run_in_threadpool(self.store.transcript, session_id, after)
            left = deadline - loop.time()
            if messages or (known is not None and stored.handoff != known) or left <= 0:
                break
            await self.changes.wait(session_id, min(UPDATES_RECHECK, left))
        handoff = {"state": stored.handoff, "staff": stored.handoff_staff}
        if staff:
            handoff = await run_in_threadpool(self.store.handoff, session_id) or handoff
        return {"messages": messages, "handoff": handoff}

    async def sources(self, request: Request) -> Response:
        from chatbot.knowledge import inventory
        return JSONResponse({"sources": [{"id": e.id, "treatment": e.treatment, "topic": e.topic,
                                          "text": e.text} for e in inventory.facts().values()]})

    def _changed(self, session_id: str) -> None:
        """A session changed here: wake its long polls, and the webhook sender (an event may wait)."""
        self.changes.notify(session_id)
        if self.sender:
            self.sender.wake()

    def _turn_threads(self) -> anyio.CapacityLimiter:
        # Made on first use, inside the event loop (older anyio versions need a running loop).
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(TURN_THREADS)
        return self._limiter

    def _answer(self, session_id: str, text: str) -> dict | None:
        """One turn, in a worker thread: load, answer, save if nobody else saved meanwhile. After a
        few lost races (another process answering the same session), answer with the session
        locked, which cannot lose. None: a staff member holds the conversation, so the message
        was saved unanswered, for them."""
        received = self.clock()
        for _ in range(OPTIMISTIC_ATTEMPTS):
            stored = self.store.get(session_id)
            reply, saved = self._answer_from(stored, session_id, text, received)
            if saved:
                return reply
        with self.store.exclusive(session_id) as stored:
            reply, saved = self._answer_from(stored, session_id, text, received)
        if not saved:   # nobody can write between the locked read and this save
            raise RuntimeError(f"a locked turn of session {session_id} was not saved")
        return reply

    def _answer_from(self, stored, session_id: str, text: str,
                     received: datetime) -> tuple[dict | None, bool]:
        if stored is None:
            raise _no_such_session()
        if stored.handoff == "claimed":
            turn = Turn(user_text=text, user_at=received, bot_text=None, bot_at=received, handoff=False)
            return None, self.store.save_turn(session_id, stored.version, stored.state, turn)
        session = self.bot.session(stored.state)
        reply = _respond(session, text)
        turn = Turn(user_text=text, user_at=received, bot_text=reply["text"], bot_at=self.clock(),
                    handoff=bool(reply["handoff"]), sources=list(reply["sources"]),
                    follow_up=reply["follow_up"])
        return reply, self.store.save_turn(session_id, stored.version, session.state, turn)

    async def sweep_forever(self) -> None:
        """Delete idle sessions now and then; often enough for short retentions, at most every 10 min."""
        idle_for = timedelta(days=self.config.retention_days)
        interval = min(600.0, max(1.0, idle_for.total_seconds() / 10))
        while True:
            try:
                purged = await run_in_threadpool(self.store.purge, idle_for)
                if purged:
                    log.info("retention: deleted %d idle session(s)", purged)
            except Exception:   # a locked or missing database must not end the sweeping
                log.exception("retention: could not delete idle sessions")
            await asyncio.sleep(interval)


def _respond(session, text: str) -> dict:
    """The reply object for one message; slash commands work as they do in the terminal."""
    outcome = commands.handle(session, text)
    if outcome.quit:   # nothing to leave on the web: /quit is a goodbye
        return session.ask("bye").to_dict()
    return outcome.reply.to_dict()


class _Changes:
    """Wakes the long-polling requests of a session when this process changes it. An event lives
    only while someone waits on it, so sessions polled once leave nothing behind."""

    def __init__(self):
        self._events: dict[str, list] = {}   # session id -> [event, how many wait on it]

    def notify(self, session_id: str) -> None:
        entry = self._events.pop(session_id, None)
        if entry is not None:
            entry[0].set()

    async def wait(self, session_id: str, timeout: float) -> None:
        entry = self._events.setdefault(session_id, [asyncio.Event(), 0])
        entry[1] += 1
        try:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(entry[0].wait(), timeout)
        finally:
            entry[1] -= 1
            if not entry[1] and self._events.get(session_id) is entry:
                del self._events[session_id]

    def __len__(self) -> int:
        return len(self._events)


class _SessionQueues:
    """An asyncio lock per session in use: its messages are answered one at a time, in the order they
    arrived (asyncio locks wake waiters first come, first served). Unused locks are dropped."""

    def __init__(self):
        self._locks: dict[str, list] = {}   # session id -> [lock, holders and waiters]

    @contextlib.asynccontextmanager
    async def hold(self, session_id: str):
        entry = self._locks.setdefault(session_id, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if not entry[1]:
                del self._locks[session_id]


# -- requests -----------------------------------------------------------------------------------
def _require_json(request: Request) -> None:
    """POST bodies must be declared JSON. A form or text/plain POST is a "simple" request that any
    website can make from its visitors' browsers without a CORS preflight; application/json is not."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise HTTPException(415, 'Send the body as JSON, with the header "Content-Type: application/json".')


def _number(raw: str) -> int | None:
    """A whole number written in ASCII digits, or None: str.isdigit() also accepts "²" and "①",
    which int() then refuses."""
    return int(raw) if raw.isascii() and raw.isdigit() else None


async def _json_body(request: Request, limit: int = MAX_BODY):
    declared = _number(request.headers.get("content-length", ""))
    if declared is not None and declared > limit:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():   # a chunked body has no length to check up front
        body += chunk
        if len(body) > limit:
            raise _too_large()
    try:
        return json.loads(bytes(body))
    except (ValueError, RecursionError):   # RecursionError: absurdly deep nesting
        raise HTTPException(400, 'The body must be JSON, e.g. {"text": "How long does Botox take?"}.') \
            from None


def _message_text(body, example: str = 'e.g. {"text": "How long does Botox take?"}') -> str:
    if not isinstance(body, dict) or "text" not in body:
        raise HTTPException(422, f'The body must be a JSON object with a "text" field, {example}.')
    text = body["text"]
    if not isinstance(text, str):
        raise HTTPException(422, f'"text" must be a string, {example}.')
    if not text.strip():
        raise HTTPException(422, f'"text" must not be empty, {example}.')
    if "\x00" in text or not _encodable(text):
        raise HTTPException(422, '"text" must be Unicode text without NUL characters or lone surrogates '
                                 '(such as "\\ud800"), which no database can store.')
    return text


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:   # a lone surrogate: JSON allows "\ud800", UTF-8 does not
        return False
    return True


def _staff_name(body, required: bool) -> str | None:
    """The "staff" field of a claim (required), resolve or release (optional: who did it)."""
    example = 'e.g. {"staff": "Ana"}'
    if not isinstance(body, dict):
        raise HTTPException(422, f"The body must be a JSON object, {example}.")
    name = body.get("staff")
    if name is None and not required:
        return None
    if not isinstance(name, str) or not name.strip():
        raise HTTPException(422, f'"staff" must be the staff member\'s name, {example}.')
    name = name.strip()
    if len(name) > STAFF_NAME_MAX or not name.isprintable() or not _encodable(name):
        raise HTTPException(422, f'"staff" must be a printable name of at most {STAFF_NAME_MAX} characters.')
    return name


PHONE = re.compile(r"^\+?[0-9 ().-]{6,30}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def _contact(body) -> tuple[str, str | None, str | None]:
    """(name, phone, email) from a contact body, or a 422 that says what is wrong."""
    example = 'e.g. {"name": "Rosa", "phone": "+44 20 7946 0000", "consent": true}'
    if not isinstance(body, dict):
        raise HTTPException(422, f"The body must be a JSON object, {example}.")
    if body.get("consent") is not True:
        raise HTTPException(422, '"consent" must be true: the clinic keeps contact details only with the '
                                 "person's consent.")
    name, phone, email = (body.get(key) for key in ("name", "phone", "email"))
    if not isinstance(name, str) or not name.strip() or len(name) > 100 or not name.strip().isprintable():
        raise HTTPException(422, f'"name" must be a name of 1 to 100 printable characters, {example}.')
    for key, value, pattern, what in (("phone", phone, PHONE, "a phone number"),
                                      ("email", email, EMAIL, "an email address")):
        if value is not None and (not isinstance(value, str) or len(value) > 254
                                  or not pattern.match(value.strip())):
            raise HTTPException(422, f'"{key}" does not look like {what}.')
    if not phone and not email:
        raise HTTPException(422, f'Give a "phone" or an "email" (or both), {example}.')
    return name.strip(), phone.strip() if phone else None, email.strip() if email else None


def _states(raw: str | None) -> tuple[str, ...]:
    """The handoff states asked for: `state=waiting` or `state=waiting,claimed`; all but none by default."""
    if raw is None:
        return HANDOFF_STATES[1:]
    states = tuple(part.strip() for part in raw.split(","))
    if not states or not set(states) <= set(HANDOFF_STATES[1:]):
        raise HTTPException(422, '"state" must be waiting, claimed or resolved (or several, '
                                 'comma-separated).')
    return states


def _limit(raw: str | None) -> int:
    return _whole(raw, "limit", 1, HANDOFF_MAX, default=HANDOFF_LIMIT)


def _whole(raw: str | None, name: str, low: int, high: int, default: int) -> int:
    """A whole-number query parameter from `low` to `high`, or its default when absent."""
    if raw is None:
        return default
    number = _number(raw)
    if number is None or not low <= number <= high:
        raise HTTPException(422, f'"{name}" must be a whole number from {low} to {high}.')
    return number


def _no_such_session() -> HTTPException:
    return HTTPException(404, "No session with this id (it may have been deleted or expired).")


def _is_staff(path: str) -> bool:
    return STAFF_PATH.match(path) is not None


def _too_large() -> HTTPException:
    return HTTPException(413, f"The body is larger than {MAX_BODY // 1024} KB.")


# -- errors: always JSON {"error": ...} -----------------------------------------------------------
async def _http_error(request: Request, error: HTTPException) -> Response:
    return JSONResponse({"error": error.detail}, status_code=error.status_code,
                        headers=getattr(error, "headers", None))


SERVER_ERROR = "Something went wrong on the server; the problem has been logged."


async def _server_error(request: Request, error: Exception) -> Response:
    # Only for a failure in the middleware above _ServerErrors; Starlette logs the traceback.
    return JSONResponse({"error": SERVER_ERROR}, status_code=500)


class _ServerErrors:
    """A failure below becomes a JSON 500 here, inside the other middleware, so that it carries the
    same security and CORS headers as any answer, and without reaching uvicorn, which would close
    the connection (and so fail the client's next requests on it). The traceback is logged."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_and_note(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)
        try:
            await self.app(scope, receive, send_and_note)
        except Exception:
            log.exception("%s %s failed", scope["method"], mask_session_ids(scope["path"]))
            if started:   # too late for a clean answer: let the server close the connection
                raise
            await JSONResponse({"error": SERVER_ERROR}, status_code=500)(scope, receive, send)


# -- the access log: paths without session ids ------------------------------------------------------
def mask_session_ids(path: str) -> str:
    """/v1/sessions/q3KX0nXa.../messages -> /v1/sessions/{id}/messages: an id is the key to a
    conversation, and logs are read by more people than conversations are."""
    return SESSION_IN_PATH.sub(r"\1{id}", path)


class _MaskSessionIds(logging.Filter):
    """On uvicorn's access logger, whose records carry (client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], mask_session_ids(args[2]), *args[3:])
        return True


def _mask_session_ids_in_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(existing, _MaskSessionIds) for existing in access.filters):
        access.addFilter(_MaskSessionIds())


# -- middleware (plain ASGI, so it also covers errors raised below it) -----------------------------
class _RequireKey:
    """With CHATBOT_API_KEY set, every /v1 request but the staff routes needs `Authorization: Bearer
    <key>` (the staff routes are _RequireStaff's)."""

    def __init__(self, app, key: str):
        self.app, self.key = app, key.encode()

    async def __call__(self, scope, receive, send):
        if (scope["type"] == "http" and _is_api(scope["path"]) and not _is_staff(scope["path"])
                and not self._authorised(scope)):
            response = JSONResponse({"error": "A valid API key is required: Authorization: Bearer <key>."},
                                    status_code=401, headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorised(self, scope) -> bool:
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, given = header.partition(b" ")
        return scheme.lower() == b"bearer" and secrets.compare_digest(given.strip(), self.key)


class _RequireStaff:
    """The staff routes (/staff, /v1/handoffs..., staff messages). With CHATBOT_STAFF_KEY set, they
    need it, as `Authorization: Bearer <key>` or as the password of HTTP Basic (so that a browser
    asks for it on /staff; the user name is not checked). Without it, they answer only requests
    from this machine's loopback address."""

    def __init__(self, app, key: str | None):
        self.app, self.key = app, key.encode() if key else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not _is_staff(scope["path"]) or self._authorised(scope):
            await self.app(scope, receive, send)
            return
        if self.key:
            response = JSONResponse({"error": "The staff key is required: Authorization: Bearer "
                                              "<CHATBOT_STAFF_KEY> (or the key as the password when the "
                                              "browser asks)."},
                                    status_code=401, headers={"WWW-Authenticate": 'Basic realm="staff"'})
        else:
            response = JSONResponse({"error": "The staff routes answer only on this machine while the server "
                                              "has no CHATBOT_STAFF_KEY."}, status_code=403)
        await response(scope, receive, send)

    def _authorised(self, scope) -> bool:
        if self.key is None:
            client = scope.get("client")
            return bool(client) and _loopback(client[0])
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, given = header.partition(b" ")
        given, scheme = given.strip(), scheme.lower()
        if scheme == b"basic":
            try:
                given = base64.b64decode(given, validate=True).partition(b":")[2]
            except ValueError:
                return False
        return scheme in (b"bearer", b"basic") and secrets.compare_digest(given, self.key)


class _SecurityHeaders:
    """No MIME sniffing anywhere; API answers (which hold health details) are never cached."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
        if _is_api(scope["path"]):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)
        await self.app(scope, receive, send_with_headers)


def _is_api(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


def _page_template(name: str = "index.html") -> jinja2.Template:
    """The chat page (or the staff page); autoescaped, so a clinic name is shown as text, never as
    markup."""
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.from_string((STATIC / name).read_text(encoding="utf-8"))


# -- `python -m chatbot serve` --------------------------------------------------------------------
def run(args, env) -> int:
    """Check everything that can be checked, then serve until Ctrl-C or SIGTERM."""
    import uvicorn

    from chatbot.status import CommandError, ExitStatus
    config = ServerConfig.from_args(args, env.environ)
    env.today()   # a bad CHATBOT_TODAY is reported before any work
    _check_webhooks(config)
    if config.chatwoot_url:
        try:
            chatwoot.check_setup(config.chatwoot_url, config.chatwoot_token)
        except chatwoot.ChatwootError as error:
            raise CommandError(str(error)) from None
    bot = _chatbot(config, env)
    try:
        store = open_store(config.db)
    except StoreUnavailable as error:
        raise CommandError(str(error)) from None
    listener = _listen(args.host, args.port)
    for notice in key_notices(config, args.host, args.port):
        env.error(notice)
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    env.write(f"Serving the chatbot on http://{shown_host}:{args.port}/ with sessions in "
              f"{shown_database(config.db)} "
              f"({args.workers} worker{'s' if args.workers > 1 else ''}; Ctrl-C stops it).")
    options = dict(host=args.host, port=args.port, log_level="info", proxy_headers=True,
                   server_header=False, timeout_graceful_shutdown=10)
    if args.workers == 1:
        app = create_app(config, bot=bot, store=store, today=env.today)
        try:   # uvicorn re-raises Ctrl-C after a clean shutdown: main() turns it into status 130
            with contextlib.closing(listener):
                uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=[listener])
        finally:
            store.close()   # the lifespan closes only stores the app opened itself
        return ExitStatus.OK
    # Several workers: each process imports the app factory and builds its own Chatbot and store
    # from the environment, and accepts on this same listening socket (so its TCP_NODELAY holds).
    from uvicorn.supervisors import Multiprocess
    store.close()
    os.environ[CONFIG_VARIABLE] = config.to_json()
    os.environ[PARENT_VARIABLE] = str(os.getpid())
    for name in (*_SECRETS.values(), "CHATBOT_TODAY"):
        if name in env.environ:
            os.environ[name] = env.environ[name]
    uvicorn_config = uvicorn.Config("chatbot.server:app_from_environment", factory=True,
                                    workers=args.workers, **options)
    with contextlib.closing(listener), contextlib.suppress(KeyboardInterrupt):
        Multiprocess(uvicorn_config, sockets=[listener]).run()
    return ExitStatus.OK


def _check_webhooks(config: ServerConfig) -> None:
    """Every --webhook an http(s) URL, and a secret to sign with; else one line and exit 1."""
    from chatbot.status import CommandError
    for url in config.webhooks:
        try:
            webhooks.check_url(url)
        except webhooks.WebhookError as error:
            raise CommandError(str(error)) from None
    if config.webhooks and not config.webhook_secret:
        raise CommandError("--webhook needs CHATBOT_WEBHOOK_SECRET, the secret its events are signed with "
                           "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')")


def key_notices(config: ServerConfig, host: str, port: int) -> list[str]:
    """What `serve` says at start-up about the keys it runs with (or without)."""
    notices = []
    if not config.api_key and not _loopback(host):
        notices.append(f"chatbot: warning: no CHATBOT_API_KEY, so anyone who can reach {host}:{port} "
                       "can talk to the chatbot through its API")
    if not config.staff_key:
        notices.append("chatbot: no CHATBOT_STAFF_KEY, so the staff page and routes (/staff, /v1/handoffs) "
                       "answer only on this machine's loopback address; set it to open them to staff "
                       "elsewhere")
    return notices


def _die_with_parent(parent: str | None) -> None:
    """In a worker of `serve --workers N`: end when the parent ends, even by kill -9, so that no
    orphaned worker goes on holding the port. On Linux the kernel sends SIGTERM (a clean stop:
    requests in flight are answered) when the parent dies; elsewhere a thread watches."""
    if not parent or not parent.isdigit():
        return
    parent_pid = int(parent)
    if sys.platform.startswith("linux"):
        import ctypes
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
    else:
        def watch():
            while os.getppid() == parent_pid:
                threading.Event().wait(1.0)
            os.kill(os.getpid(), signal.SIGTERM)
        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    if os.getppid() != parent_pid:   # it died before the signal was arranged
        log.error("the serve process %d has gone; this worker stops", parent_pid)
        os._exit(1)


def _chatbot(config: ServerConfig, env):
    """The Chatbot for `serve`; a clinic's template folder is checked (exists, compiles) first."""
    from chatbot.session import Chatbot
    from chatbot.status import CommandError
    if config.templates is not None and not os.path.isdir(config.templates):
        raise CommandError(f"--templates {config.templates}: not a folder")
    bot = Chatbot(today=env.today, templates=config.templates, clinic=config.clinic)
    if config.templates is not None:
        for name in sorted(os.listdir(config.templates)):
            if not name.endswith(".j2"):
                continue
            try:
                bot.renderer.env.get_template(name)
            except jinja2.TemplateSyntaxError as error:
                raise CommandError(f"template {os.path.join(config.templates, name)}, line "
                                   f"{error.lineno}: {error.message}") from None
    return bot


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a busy port is one clear error line."""
    from chatbot.status import CommandError
    try:
        family, kind, protocol, _, _ = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                          proto=socket.IPPROTO_TCP)[0]
        # With the protocol named (IPPROTO_TCP, not 0), asyncio sets TCP_NODELAY on every accepted
        # connection; without it each answer on a kept-alive connection waits for a delayed ACK.
        listener = socket.socket(family, kind, protocol)
    except OSError as error:
        raise CommandError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(2048)
        listener.set_inheritable(True)
    except OSError as error:
        listener.close()
        raise CommandError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return listener
