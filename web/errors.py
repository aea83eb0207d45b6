"""Every error the web process answers is JSON: ``{"error": {"code", "message", "fields"?}}``.

Clients branch on ``code``, so each HTTP status maps to one stable code. A 500 is always a bug: it
is logged with its traceback and answered without details (no stack, no SQL, no input echoed).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from shared.service import ServiceError

log = logging.getLogger(__name__)

# DESIGN's codes; any other 4xx gets its HTTP name in snake case (e.g. method_not_allowed).
CODES = {
    400: "validation_failed",
    401: "unauthorized",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
}
MESSAGES = {
    400: "the request is not valid",
    401: "a valid store API token is required (Authorization: Bearer <token>)",
    404: "no such resource",
    405: "this method is not allowed here",
    409: "the request conflicts with the current state",
    413: "the request body is larger than 1 MiB",
    415: "the request body must be JSON (Content-Type: application/json)",
}


def error_response(status: int, code: str, message: str, *, fields: Mapping[str, list[str]] | None = None,
                   extra: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None) -> Response:
    detail: dict[str, Any] = {"code": code, "message": message}
    if fields:
        detail["fields"] = dict(fields)
    body: dict[str, Any] = {"error": detail}
    for key, value in (extra or {}).items():
        # Extra facts (the live integration_id of a 409) go both in the error object and at the
        # top of the body, which is where DESIGN says "the body adds" them.
        if value is None:
            continue
        detail[key] = value
        body[key] = value
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error dict -> {"credentials.token": [...]}.

    A schema-level error (``_schema``) belongs to the object it is about, so it is filed under the
    parent's path ("" for the body itself).
    """
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            path = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
            for sub, msgs in flatten_messages(value, path).items():
                out.setdefault(sub, []).extend(msgs)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix] = list(messages)
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            out.update(flatten_messages(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out[prefix] = [str(messages)]
    return out


def validation_response(messages: Any) -> Response:
    flat = flatten_messages(messages)
    body_level = flat.pop("", None)
    if body_level:
        message = "the body must be a JSON object" if "Invalid input type." in body_level else "; ".join(body_level)
    else:
        message = "invalid fields: " + ", ".join(sorted(flat))
    return error_response(400, "validation_failed", message, fields=flat or None)


def _http_code(exc: HTTPException) -> str:
    status = exc.code or 500
    return CODES.get(status) or (exc.name or "error").lower().replace(" ", "_").replace("'", "")


def register(app: Flask) -> None:
    """Install the JSON error handlers on an app (covers every blueprint and unrouted URL)."""

    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError) -> Response:
        if exc.status == 400:
            return error_response(400, exc.code, exc.message, fields=exc.fields)
        return error_response(exc.status, exc.code, exc.message, fields=exc.fields, extra=exc.extra)

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError) -> Response:
        return validation_response(exc.messages)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if status >= 500:
            return _server_error(exc)
        # Keep headers such as Allow (405) but not werkzeug's HTML Content-Type.
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        message = MESSAGES.get(status) or exc.description or exc.name
        return error_response(status, _http_code(exc), message, headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # Method and path only: bodies and headers may hold tokens or personal data.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _server_error(exc)


def _server_error(exc: Exception) -> Response:
    status = getattr(exc, "code", None) or 500
    if not isinstance(status, int) or status < 500:
        status = 500
    headers = {}
    if isinstance(exc, HTTPException):
        headers = {k: v for k, v in exc.get_headers() if k.lower() in ("retry-after",)}
    return error_response(status, "internal_error" if status == 500 else "unavailable",
                          "something went wrong on our side; it has been logged" if status == 500
                          else "the service is temporarily unavailable", headers=headers)
