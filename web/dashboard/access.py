"""The dashboard's authentication policy: a signed-link session for exactly one store.

- Entry: only a link minted by the store backend (web/dashboard/links.py) starts a session; it
  lasts 8 hours from that moment (absolute, not sliding) and names one store. Nothing else
  opens a page: every other route answers 401 without a live session.
- The session is Flask's signed cookie (SECRET_KEY; SECRET_KEY_FALLBACKS verify during a
  rotation). It holds the store id, the actor the backend named (for approvals), the expiry and
  the CSRF token.
- Every POST carries that CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``).
- Framing: only the origins in DASHBOARD_FRAME_ANCESTORS may frame the pages (CSP
  ``frame-ancestors``); with framing on, the cookie is ``SameSite=None; Secure; Partitioned`` so
  it works inside the store admin's third-party iframe.
"""
from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Response, g, request, session

from shared import clock
from shared.config import Config, ConfigError
from web.dashboard.links import SESSION_TTL, Grant

COOKIE_NAME = "peoplesync_dashboard"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
OPEN_ENDPOINTS = frozenset({"dashboard.open_link", "dashboard.static"})
_ORIGIN = re.compile(r"^(?:https?://(?:\*\.)?[A-Za-z0-9.-]+(?::\d{1,5})?|'self')$")


def frame_ancestors(config: Config) -> tuple[str, ...]:
    """The origins allowed to frame the dashboard (DASHBOARD_FRAME_ANCESTORS, space/comma separated).

    Raises:
        ConfigError: a value is not an origin such as https://admin.shop.example.
    """
    raw = config.extra.get("dashboard_frame_ancestors") or ""
    values = tuple(v for v in re.split(r"[\s,]+", str(raw)) if v)
    for value in values:
        if not _ORIGIN.match(value):
            raise ConfigError("DASHBOARD_FRAME_ANCESTORS must list origins such as https://admin.shop.example")
    return values


def cookie_settings(config: Config) -> dict[str, Any]:
    """Flask session settings for the dashboard cookie (create_app applies them)."""
    framed = bool(frame_ancestors(config))
    return {
        "SESSION_COOKIE_NAME": COOKIE_NAME,
        "SESSION_COOKIE_PATH": "/dashboard",
        "SESSION_COOKIE_HTTPONLY": True,
        # A third-party frame only gets the cookie with SameSite=None, which browsers accept only
        # with Secure; Partitioned (CHIPS) keeps it keyed to the embedding store's site.
        "SESSION_COOKIE_SAMESITE": "None" if framed else "Lax",
        "SESSION_COOKIE_SECURE": framed or config.public_base_url.startswith("https://"),
        "SESSION_COOKIE_PARTITIONED": framed,
        "PERMANENT_SESSION_LIFETIME": SESSION_TTL,
        # The session is absolute (8 hours from the link), so re-sending the cookie buys nothing.
        "SESSION_REFRESH_EACH_REQUEST": False,
    }


def start_session(grant: Grant) -> None:
    """Replace whatever session the browser had with one for the granted store."""
    session.clear()
    session.permanent = True
    session["store_id"] = grant.store_id
    session["exp"] = int((clock.now() + SESSION_TTL).timestamp())
    session["csrf"] = secrets.token_urlsafe(24)
    if grant.actor:
        session["actor"] = grant.actor


def live_store() -> str | None:
    """The store of the current session, or None when there is no live session."""
    store_id, exp = session.get("store_id"), session.get("exp")
    if not isinstance(store_id, str) or not isinstance(exp, int):
        return None
    if clock.now().timestamp() >= exp:
        return None
    return store_id


def actor() -> dict[str, str] | None:
    value = session.get("actor")
    return value if isinstance(value, dict) else None


def csrf_token() -> str:
    return str(session.get("csrf", ""))


def csrf_ok() -> bool:
    expected = csrf_token()
    given = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def security_headers(response: Response, ancestors: tuple[str, ...]) -> Response:
    """Headers every dashboard answer carries: a strict CSP, no caching of personal data."""
    frame = " ".join(ancestors) if ancestors else "'none'"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        f"form-action 'self'; base-uri 'none'; frame-ancestors {frame}")
    if not ancestors:
        response.headers["X-Frame-Options"] = "DENY"  # for browsers that predate frame-ancestors
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if g.get("dashboard_page"):
        response.headers["Cache-Control"] = "no-store"
    return response


def session_facts() -> Mapping[str, Any]:
    return {"store_id": g.get("store_id"), "actor": actor(), "csrf_token": csrf_token()}
