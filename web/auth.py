"""Authentication policies. Each blueprint states which one it uses when it is created.

- ``store_token``: the store backend's ``Authorization: Bearer $STORE_API_TOKEN`` (one token acts
  for every store), compared in constant time.
- ``open_access``: no authentication (health, readiness, metrics, the OpenAPI document).
HiBob webhooks (signature) and the dashboard (session) bring their own when they are added.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, request

from web.errors import MESSAGES, error_response


def _presented_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _token_matches(presented: str, expected: str) -> bool:
    # Bytes, because compare_digest refuses non-ASCII str (a header can hold any latin-1 text).
    return bool(expected) and hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def unauthorized() -> Response:
    return error_response(401, "unauthorized", MESSAGES[401], headers={"WWW-Authenticate": "Bearer"})


def store_token(blueprint: Blueprint) -> Blueprint:
    """Require the store API token on every route of ``blueprint``."""

    @blueprint.before_request
    def _require_store_token() -> Response | None:
        presented = _presented_token()
        expected = current_app.extensions["peoplesync"].config.store_api_token
        if presented is None or not _token_matches(presented, expected):
            return unauthorized()
        return None

    blueprint.auth_policy = "store_token"  # type: ignore[attr-defined]
    return blueprint


def open_access(blueprint: Blueprint) -> Blueprint:
    """Declare that ``blueprint`` is deliberately unauthenticated."""
    blueprint.auth_policy = "open"  # type: ignore[attr-defined]
    return blueprint
