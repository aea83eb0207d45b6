"""Dashboard links: what the store backend hands to an admin's browser to open the dashboard.

A link is ``{PUBLIC_BASE_URL}/dashboard/link/<token>``: the token is a signed (SECRET_KEY, every
key of the rotation list verifies, the first one signs) compact JSON document naming the store,
the actor the backend vouched for, an expiry 10 minutes out and a random id (jti).

Single use is a Redis ``SET NX`` of the jti that lives until the link would have expired anyway.
Why Redis and not a table: the marker is short-lived by nature (DESIGN lets Redis hold exactly
such markers), minting a link writes nothing, and it keeps the dashboard free of schema changes.
The cost, written down: if Redis loses its data within a link's 10 minutes, an already-used link
opens once more until it expires. A link is a bearer secret handed straight to the admin's
browser, so we accept that; when Redis is unreachable a link is refused (fail closed), never
opened unchecked.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import redis
from itsdangerous import BadSignature, URLSafeSerializer

from shared import clock

LINK_TTL = timedelta(minutes=10)
SESSION_TTL = timedelta(hours=8)
_SALT = "peoplesync.dashboard-link"


class LinkRefused(Exception):
    """The link cannot open a session; ``reason`` is `invalid`, `expired`, `used` or `unavailable`."""

    def __init__(self, reason: str, store_id: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.store_id = store_id


@dataclass(frozen=True)
class Link:
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class Grant:
    """What an opened link grants: one store, and who the store backend said the admin is."""

    store_id: str
    actor: dict[str, str] | None


def _serializer(secret_keys: tuple[str, ...]) -> URLSafeSerializer:
    # itsdangerous signs with the last key and verifies with all; our list has the current key first.
    return URLSafeSerializer(list(reversed(secret_keys)), salt=_SALT)


def _used_key(prefix: str, jti: str) -> str:
    return f"{prefix}dashboard-link-used:{jti}"


def mint(ctx: Any, store_id: str, actor: dict[str, str] | None, *, now: datetime | None = None) -> Link:
    """Sign a single-use link to the dashboard of ``store_id`` (nothing is stored)."""
    now = now or clock.now()
    expires = (now + LINK_TTL).replace(microsecond=0)
    payload: dict[str, Any] = {"s": store_id, "j": secrets.token_urlsafe(16), "x": int(expires.timestamp())}
    if actor:
        payload["a"] = {"id": actor["id"], "email": actor["email"]}
    token = _serializer(ctx.config.secret_keys).dumps(payload)
    return Link(url=f"{ctx.config.public_base_url.rstrip('/')}/dashboard/link/{token}", expires_at=expires)


def peek(ctx: Any, token: str) -> dict[str, Any]:
    """The verified payload of a token (signature only: not expiry, not use).

    Raises:
        LinkRefused: `invalid` (not signed by any of our keys, or malformed).
    """
    if len(token) > 2000:
        raise LinkRefused("invalid")
    try:
        payload = _serializer(ctx.config.secret_keys).loads(token)
    except BadSignature:
        raise LinkRefused("invalid") from None
    if not (isinstance(payload, dict) and isinstance(payload.get("s"), str) and isinstance(payload.get("j"), str)
            and isinstance(payload.get("x"), int)):
        raise LinkRefused("invalid")
    return payload


def redeem(ctx: Any, token: str, *, now: datetime | None = None) -> Grant:
    """Check a link and mark it used; what it grants.

    Raises:
        LinkRefused: `invalid`, `expired`, `used` (with the store id) or `unavailable` (Redis down).
    """
    payload = peek(ctx, token)
    now = now or clock.now()
    expires = datetime.fromtimestamp(payload["x"], timezone.utc)
    if now >= expires:
        raise LinkRefused("expired", payload["s"])
    ttl = int((expires - now).total_seconds()) + 60  # outlive the link, so it can never be replayed
    try:
        first = ctx.redis.set(_used_key(ctx.config.queue_prefix, payload["j"]), payload["s"], nx=True, ex=ttl)
    except redis.RedisError:
        raise LinkRefused("unavailable", payload["s"]) from None
    if not first:
        raise LinkRefused("used", payload["s"])
    actor = payload.get("a")
    return Grant(store_id=payload["s"], actor=actor if isinstance(actor, dict) else None)
