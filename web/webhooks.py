"""HiBob → peoplesync: `POST /webhooks/hibob/<integration_id>`.

Authentication policy: HiBob's `Bob-Signature` (base64 HMAC-SHA512 of the raw body) checked
against the integration's webhook secret, or the previous one during a rotation. Only HiBob's
"Ping test" is answered without one, because HiBob sends it before the admin can paste the secret.

Status codes matter to HiBob: any non-2xx is retried for three days and emails its admins, so
events we don't act on get 200 "ignored", and only a database outage gets 503 (retry later).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import OperationalError

from shared import clock, metrics
from shared.db import inbox as inbox_db
from shared.db import integrations as integrations_db
from worker.events import enqueue_events

bp = Blueprint("webhooks", __name__)

ACTED_ON = frozenset({
    "employee.created", "employee.updated", "employee.deleted", "employee.joined", "employee.left",
    "employee.activated", "employee.inactivated", "employee.temporaryLeave",
    "employee.access.revoked.immediately", "table.entry.created", "table.entry.updated",
})
PING_BODIES = (b"Ping test", b'{"text":"Ping test"}')
_RESULTS = {400: "invalid", 401: "unauthorized", 404: "not_found", 409: "no_secret", 413: "too_large",
            503: "unavailable"}


def _answer(status: int, body: dict, **headers: str):
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers)
    return response


def _error(status: int, code: str, message: str):
    return _answer(status, {"error": {"code": code, "message": message}})


def _signature_ok(ctx, integration: dict, raw: bytes, given: str | None) -> bool:
    if not given:
        return False
    secrets = [integration["webhook_secret_enc"]]
    until = integration["webhook_prev_valid_until"]
    if integration["webhook_prev_secret_enc"] and until is not None:
        if until.tzinfo is None:
            until = until.replace(tzinfo=clock.now().tzinfo)
        if until > clock.now():
            secrets.append(integration["webhook_prev_secret_enc"])
    ok = False
    for sealed in secrets:
        expected = base64.b64encode(hmac.new(ctx.box.open(sealed).encode(), raw, hashlib.sha512).digest())
        ok |= hmac.compare_digest(expected, given.strip().encode())  # no early exit: constant work
    return ok


def _event_fields(raw: bytes) -> tuple[str, str, str] | None:
    """(type, employeeId, triggeredAt) of a v2 event, or None when the body is not one."""
    try:
        event = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return None
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    employee_id, triggered_at = data.get("employeeId"), event.get("triggeredAt")
    if isinstance(employee_id, int) and not isinstance(employee_id, bool):
        employee_id = str(employee_id)
    # U+0000 is no part of a HiBob id or timestamp, and PostgreSQL text cannot store it.
    if not isinstance(employee_id, str) or not employee_id or len(employee_id) > 64 or "\x00" in employee_id:
        employee_id = ""
    if not isinstance(triggered_at, str) or len(triggered_at) > 40 or "\x00" in triggered_at:
        triggered_at = ""
    return event["type"][:64], employee_id, triggered_at


@bp.after_request
def _count_result(response):
    """peoplesync_webhook_events_total{result}: 200s by their status, the rest by their code."""
    if response.status_code == 200:
        result = str((response.get_json(silent=True) or {}).get("status", "accepted"))
    else:
        result = _RESULTS.get(response.status_code, str(response.status_code))
    metrics.tally_for(current_app.extensions["peoplesync"]).count(metrics.WEBHOOK_EVENTS, result=result)
    return response


@bp.post("/webhooks/hibob/<integration_id>")
def hibob_event(integration_id: str):
    ctx = current_app.extensions["peoplesync"]
    raw = request.get_data(cache=False)
    try:
        uuid.UUID(integration_id)
    except ValueError:
        return _error(404, "not_found", "no such integration")
    try:
        with ctx.db.begin() as conn:
            integration = integrations_db.get(conn, integration_id)
            if integration is None:
                return _error(404, "not_found", "no such integration")
            if raw.strip() in PING_BODIES:
                integrations_db.update(conn, integration_id, last_ping_at=clock.now())
                return _answer(200, {"status": "ping"})
            if not integration["webhook_secret_enc"]:
                return _error(409, "conflict", "no webhook secret is set for this integration yet")
            if not _signature_ok(ctx, integration, raw, request.headers.get("Bob-Signature")):
                return _error(401, "unauthorized", "missing or wrong Bob-Signature")
            fields = _event_fields(raw)
            if fields is None:
                return _error(400, "validation_failed", "the body is not a HiBob v2 event")
            event_type, employee_id, triggered_at = fields
            now = clock.now()
            integrations_db.update(conn, integration_id, last_event_at=now)
            if integration["state"] == "disconnected" or event_type not in ACTED_ON or not employee_id:
                return _answer(200, {"status": "ignored"})
            if not inbox_db.record(conn, integration_id, event_type, employee_id, triggered_at, now):
                return _answer(200, {"status": "duplicate"})
    except OperationalError:
        return _answer(503, {"error": {"code": "unavailable", "message": "database unreachable; retry"}},
                       **{"Retry-After": "30"})
    enqueue_events(ctx, integration_id)  # after the commit; if Redis is down the sweeper picks it up
    return _answer(200, {"status": "accepted"})
