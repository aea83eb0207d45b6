"""HiBob webhooks v2, as the sandbox sends them (reference §4).

* Registration POSTs the ping at once: the body ``Ping test``; if that gets a non-2xx, JSON
  ``{"text":"Ping test"}``. If neither gets a 2xx the webhook is not established (unless forced).
* Each event is one JSON envelope ``{companyId, type, triggeredBy, triggeredAt, version: "v2",
  data}``, serialized once; the same bytes go to every attempt, signed with ``Bob-Signature`` =
  base64(HMAC-SHA512(secret, body)).
* Delivery runs in one background thread. A non-2xx (or no answer within the timeout) is retried
  on a backoff schedule - HiBob's partner schedule (+1, 10, 20, 40, 80, 160 minutes) by default,
  a short one in tests - then given up. Events do not wait for an earlier stuck one [U].
* Every attempt, pings included, lands in a delivery log readable through the control API.
"""
from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
import requests

from sandbox.clock import SandboxClock

HIBOB_RETRY_DELAYS: tuple[float, ...] = (60.0, 600.0, 1200.0, 2400.0, 4800.0, 9600.0)
PING_BODIES: tuple[tuple[bytes, str], ...] = (
    (b"Ping test", "text/plain; charset=utf-8"),
    (b'{"text":"Ping test"}', "application/json"),
)
LOG_SIZE = 10_000


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha512).digest()).decode()


@dataclass
class Webhook:
    id: str
    url: str
    secret: str
    events: frozenset[str] | None  # None = every event type
    created_at: str
    established: bool = False

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "events": sorted(self.events or []) or None,
                "created_at": self.created_at, "established": self.established,
                "secret_set": bool(self.secret)}


@dataclass(order=True)
class _Attempt:
    due: float
    order: int
    webhook_id: str = field(compare=False)
    event_seq: int = field(compare=False)
    event_type: str = field(compare=False)
    body: bytes = field(compare=False)
    number: int = field(compare=False, default=1)


def _utc_stamp() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WebhookDispatcher:
    def __init__(self, company_id: int, clock: SandboxClock,
                 retry_delays: tuple[float, ...] | None = None, timeout: float = 10.0) -> None:
        self.company_id = company_id
        self.clock = clock
        self.retry_delays = tuple(HIBOB_RETRY_DELAYS if retry_delays is None else retry_delays)
        self.timeout = timeout
        # How employee.updated lists changed fields: [{"fieldId": ...}] or plain ids [U].
        self.field_updates_shape = "objects"
        self._hooks: dict[str, Webhook] = {}
        self._queue: list[_Attempt] = []
        self._events: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
        self._deliveries: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
        self._seq = itertools.count(1)
        self._delivery_seq = itertools.count(1)
        self._hook_seq = itertools.count(1)
        self._cond = threading.Condition()
        self._in_flight = 0
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- registration ----------------------------------------------------------------------

    def register(self, url: str, secret: str, *, events: list[str] | None = None,
                 force: bool = False) -> tuple[Webhook, list[dict[str, Any]]]:
        """Create a webhook and ping it; returns it and the ping attempts.

        Not established (and not kept) when no ping got a 2xx, unless ``force``.
        """
        hook = Webhook(f"wh_{next(self._hook_seq)}", url, secret,
                       frozenset(events) if events else None, _utc_stamp())
        attempts = []
        for number, (body, content_type) in enumerate(PING_BODIES, start=1):
            record = self._post(hook, body, content_type, "ping", 0, number)
            attempts.append(record)
            if record["outcome"] == "delivered":
                hook.established = True
                break
        if hook.established or force:
            with self._cond:
                self._hooks[hook.id] = hook
        return hook, attempts

    def remove(self, hook_id: str) -> bool:
        with self._cond:
            self._queue = [a for a in self._queue if a.webhook_id != hook_id]
            heapq.heapify(self._queue)
            return self._hooks.pop(hook_id, None) is not None

    def webhooks(self) -> list[Webhook]:
        with self._cond:
            return list(self._hooks.values())

    # -- events ----------------------------------------------------------------------------

    def emit(self, event_type: str, data: dict[str, Any], triggered_by: str) -> dict[str, Any]:
        data = dict(data)
        if "fieldUpdates" in data and self.field_updates_shape == "objects":
            data["fieldUpdates"] = [{"fieldId": f} for f in data["fieldUpdates"]]
        envelope = {
            "companyId": self.company_id,
            "type": event_type,
            "triggeredBy": triggered_by,
            # No zone suffix, microseconds: exactly like HiBob's examples (UTC) [U].
            "triggeredAt": self.clock.now().astimezone(timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%S.%f"),
            "version": "v2",
            "data": data,
        }
        body = orjson.dumps(envelope)
        with self._cond:
            seq = next(self._seq)
            self._events.append({"seq": seq, "event": envelope})
            now = time.monotonic()
            for hook in self._hooks.values():
                if hook.events is None or event_type in hook.events:
                    heapq.heappush(self._queue, _Attempt(now, seq, hook.id, seq, event_type,
                                                         body))
            self._cond.notify_all()
        return envelope

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        with self._cond:
            return [e for e in self._events if e["seq"] > since]

    def deliveries(self, since: int = 0) -> list[dict[str, Any]]:
        with self._cond:
            return [d for d in self._deliveries if d["seq"] > since]

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + self._in_flight

    # -- delivery --------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)
            self._thread = None

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (
                        not self._queue or self._queue[0].due > time.monotonic()):
                    wait = self._queue[0].due - time.monotonic() if self._queue else None
                    self._cond.wait(timeout=wait)
                if self._stopping:
                    return
                attempt = heapq.heappop(self._queue)
                hook = self._hooks.get(attempt.webhook_id)
                self._in_flight += 1
            try:
                if hook is not None:
                    self._deliver(hook, attempt)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _deliver(self, hook: Webhook, attempt: _Attempt) -> None:
        retry_in = (self.retry_delays[attempt.number - 1]
                    if attempt.number <= len(self.retry_delays) else None)
        record = self._post(hook, attempt.body, "application/json", attempt.event_type,
                            attempt.event_seq, attempt.number, retry_in)
        if record["outcome"] == "retrying" and retry_in is not None:
            with self._cond:
                heapq.heappush(self._queue, _Attempt(
                    time.monotonic() + retry_in, attempt.order, hook.id, attempt.event_seq,
                    attempt.event_type, attempt.body, attempt.number + 1))
                self._cond.notify_all()

    def _post(self, hook: Webhook, body: bytes, content_type: str, event_type: str,
              event_seq: int, number: int, retry_in: float | None = None) -> dict[str, Any]:
        signature = sign(hook.secret, body)
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            answer = requests.post(hook.url, data=body, timeout=self.timeout, headers={
                "Content-Type": content_type, "Bob-Signature": signature,
                "User-Agent": "Bob-Webhooks-Sandbox/2"})
            status = answer.status_code
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
        delivered = status is not None and 200 <= status < 300
        if delivered:
            outcome = "delivered"
        elif event_type == "ping" or retry_in is None:
            outcome = "failed"
        else:
            outcome = "retrying"
        record = {
            "webhook_id": hook.id, "event_seq": event_seq, "type": event_type,
            "attempt": number, "url": hook.url, "at": _utc_stamp(), "status": status,
            "error": error, "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "outcome": outcome, "next_attempt_in": retry_in if outcome == "retrying" else None,
            "body": body.decode("utf-8"), "signature": signature,
        }
        with self._cond:
            record["seq"] = next(self._delivery_seq)
            self._deliveries.append(record)
        return record
