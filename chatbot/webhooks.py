"""Signed webhooks: every handoff change (and every message while a person holds the conversation)
as a JSON POST to each `--webhook URL`, delivered at least once.

The store writes each event to its outbox table in the same transaction as the change itself, so a
crash (even kill -9) between the change and the delivery loses nothing. `Sender` is a background
thread that delivers what is due: it leases a row (moves its due time past the request's timeout),
posts it, and deletes it on a 2xx answer, or schedules the next attempt with exponential backoff
(1 s, 2 s, 4 s ... at most 10 minutes apart) for a day before it gives up with a log line. Several
worker processes may each run one: the lease keeps them from sending the same row at once.
Receivers de-duplicate by event id (a delivery whose answer was lost is sent again).

Signature: `X-Chatbot-Signature: sha256=HEX`, the HMAC-SHA256 of `TIMESTAMP.BODY` with
CHATBOT_WEBHOOK_SECRET, where TIMESTAMP is the `X-Chatbot-Timestamp` header (Unix seconds).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from chatbot.store import utc_now

EVENT_TYPES = ("handoff.waiting", "handoff.claimed", "handoff.resolved", "handoff.released",
               "message.created")
FIRST_RETRY, LONGEST_RETRY = 1.0, 600.0      # seconds between attempts: doubling, capped
GIVE_UP_AFTER = timedelta(days=1)             # retried for a day (the issue asks at least an hour)
TIMEOUT = 10.0                                # seconds a receiver has to answer
BATCH = 20                                    # events leased at a time
log = logging.getLogger("chatbot.webhooks")


class WebhookError(ValueError):
    """A webhook setting that cannot work; the message is one line for the person starting serve."""


def check_url(url: str) -> str:
    """The URL if it is an absolute http(s) URL with a host; WebhookError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError(f"--webhook {url}: not an http:// or https:// URL")
    return url


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for this timestamp and body."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def backoff(attempts: int) -> float:
    """Seconds to wait after the `attempts`th failed attempt: 1, 2, 4, ... at most 600."""
    return min(LONGEST_RETRY, FIRST_RETRY * 2 ** max(0, attempts - 1))


class Sender:
    """The background thread that delivers the outbox (see the module's docstring)."""

    def __init__(self, store, secret: str | None, clock: Callable[[], datetime] = utc_now,
                 timeout: float = TIMEOUT, post: Callable | None = None,
                 connectors: dict[str, Callable] | None = None):
        """`connectors`: outbox targets that are not webhook URLs (e.g. "chatwoot"), each with the
        function that turns one of its rows into the HTTP request (url, body, headers) to make."""
        self.store, self.secret, self.clock, self.timeout = store, secret, clock, timeout
        self._post = post or _post
        self._connectors = connectors or {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the outbox now (an event was just written) rather than at the next check."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.deliver_due()
            except Exception:   # a database hiccup must not end the deliveries
                log.exception("webhooks: could not read the outbox")
                sent = 0
            if not sent:
                self._wake.wait(1.0)
                self._wake.clear()

    def deliver_due(self) -> int:
        """Lease and try the events that are due; how many were tried."""
        lease = timedelta(seconds=self.timeout + 5)
        due = self.store.lease_events(BATCH, lease)
        for event in due:
            if self._stop.is_set():
                break
            self._deliver(event)
        return len(due)

    def _deliver(self, event) -> None:
        connector = self._connectors.get(event.target)
        if connector is not None:
            url, body, headers = connector(event)
        elif self.secret is None:   # written when webhooks were set, read by a server without them
            url, body, headers = event.target, b"", {}
        else:
            url, body, headers = event.target, event.body.encode(), self._signed(event)
        problem = self._post(url, body, headers, self.timeout) if headers else "no secret to sign with"
        if problem is None:
            self.store.event_delivered(event.id, event.target)
            return
        attempts = event.attempts + 1
        if self.clock() - event.created_at > GIVE_UP_AFTER:
            log.error("webhooks: gave up on event %s (%s) to %s after %d attempts: %s",
                      event.id, event.type, event.target, attempts, problem)
            self.store.event_delivered(event.id, event.target)
            return
        delay = backoff(attempts)
        log.warning("webhooks: event %s to %s failed (%s); attempt %d in %.0f s",
                    event.id, event.target, problem, attempts + 1, delay)
        self.store.event_failed(event.id, event.target, attempts, timedelta(seconds=delay), problem)


    def _signed(self, event) -> dict:
        timestamp = str(int(self.clock().timestamp()))
        return {"Content-Type": "application/json", "User-Agent": "botox-filler-chatbot",
                "X-Chatbot-Event": event.type, "X-Chatbot-Event-Id": event.id,
                "X-Chatbot-Timestamp": timestamp,
                "X-Chatbot-Signature": sign(self.secret, timestamp, event.body.encode())}


def _post(url: str, body: bytes, headers: dict, timeout: float) -> str | None:
    """POST; None on a 2xx answer, else why not, in a few words."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(65536)
            return None if 200 <= response.status < 300 else f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except (urllib.error.URLError, OSError, ValueError) as error:   # refused, timed out, reset
        reason = getattr(error, "reason", error)
        return str(reason) or type(reason).__name__
