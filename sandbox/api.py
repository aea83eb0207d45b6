"""The HiBob API under ``/v1``, as faithful to the reference as the sandbox can make it.

Authentication: HTTP Basic ``service user id : token`` on every route (401 otherwise). People
routes also need the service user to be in a permission group (403 otherwise); field metadata and
named lists do not [U for named lists]. Order of checks: injected fault, 401, 403, rate limit
(429), request validation (400), answer.
"""
from __future__ import annotations

import time
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, g, request

from sandbox.access import ServiceUser, authenticate, basic_credentials
from sandbox.fields import DEFAULT_FIELD_IDS, FIELDS, MAX_FIELDS
from sandbox.render import HUMAN_READABLE_MODES
from sandbox.state import SandboxState

bp = Blueprint("hibob", __name__)

ENDPOINT_NAMES = {"hibob.search": "search", "hibob.read": "read", "hibob.fields": "fields",
                  "hibob.named_lists": "named-lists", "hibob.named_list": "named-lists"}
FILTER_FIELDS = ("root.id", "root.email")
# What HiBob's web app answers on paths the API does not know (reference §1, observed live).
WEB_APP_PAGE = (b"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                b"<title>Bob</title></head><body><div id=\"app\"></div>"
                b"<script src=\"/static/app.js\"></script></body></html>")


class BadRequest(Exception):
    pass


def _state() -> SandboxState:
    return current_app.extensions["sandbox"]


def hibob_error(status: int, key: str, message: str,
                headers: dict[str, str] | None = None) -> Response:
    # {"key", "error"} is the shape HiBob's SDK models for errors (reference §1) [U per status].
    return Response(orjson.dumps({"key": key, "error": message}), status=status,
                    mimetype="application/json", headers=headers)


def web_app_page() -> Response:
    return Response(WEB_APP_PAGE, status=200, content_type="text/html; charset=UTF-8")


def not_found() -> Response:
    # HiBob's 404s for unknown people and named lists came back without a body (reference §1).
    return Response(b"", status=404)


@bp.before_request
def _before() -> Response | None:
    g.started = time.perf_counter()
    state = _state()
    state.tick()
    g.endpoint_name = ENDPOINT_NAMES.get(request.endpoint or "", "other")
    fault = g.fault = state.take_fault(g.endpoint_name)
    if fault is None:
        return None
    if fault.kind == "slow":
        time.sleep(fault.delay)
        return None
    if fault.kind == "html":
        return web_app_page()
    return hibob_error(fault.status, "internal.error", "Something went wrong (injected fault)")


@bp.after_request
def _after(response: Response) -> Response:
    claimed = basic_credentials(request.headers.get("Authorization"))
    raw = request.get_data(cache=True)
    try:
        body: Any = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = raw[:2000].decode("utf-8", "replace")
    fault = g.get("fault")
    _state().record_call({
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "method": request.method, "path": request.path, "query": request.query_string.decode(),
        "endpoint": g.get("endpoint_name", "other"),
        "service_user": claimed[0] if claimed else None,
        "status": response.status_code, "request": body,
        "fault": fault.kind if fault else None,
        "duration_ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000,
                             2),
        "response_bytes": response.calculate_content_length(),
    })
    return response


def _authorize(people_data: bool) -> ServiceUser | Response:
    state = _state()
    user = authenticate(state.service_users, request.headers.get("Authorization"))
    if user is None:
        return hibob_error(401, "unauthorized", "Invalid credentials")
    if people_data and not user.in_group:
        return hibob_error(403, "forbidden",
                           "The service user has no permission to access people data")
    return user


def _json_object() -> dict[str, Any]:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Malformed JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    return body


def _fields_and_mode(body: dict[str, Any]) -> tuple[list[str], str]:
    fields = body.get("fields")
    if fields is None:
        fields = list(DEFAULT_FIELD_IDS)
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise BadRequest("'fields' must be a list of field ids")
    if len(fields) > MAX_FIELDS:
        raise BadRequest(f"Too many fields: at most {MAX_FIELDS} are allowed")
    if not fields:
        fields = list(DEFAULT_FIELD_IDS)  # [U] treated like an omitted list
    mode = body.get("humanReadable")
    if mode is None:
        mode = ""
    if mode not in HUMAN_READABLE_MODES:
        raise BadRequest("'humanReadable' must be empty, APPEND or REPLACE")
    return fields, mode


def _match(body: dict[str, Any]) -> tuple[str, frozenset[str]] | None:
    """HiBob's one-filter rule (reference §2.1): at most one filter, on root.id or root.email,
    operator equals, a non-empty list of values. An empty list of filters is refused too."""
    if "filters" not in body:
        return None
    filters = body["filters"]
    if not isinstance(filters, list) or not filters:
        raise BadRequest("'filters' must hold exactly one filter when present")
    if len(filters) > 1:
        raise BadRequest("Only one filter is supported")
    only = filters[0]
    if not isinstance(only, dict):
        raise BadRequest("A filter must be an object")
    if only.get("fieldPath") not in FILTER_FIELDS:
        raise BadRequest("Filtering is supported on root.id and root.email only")
    if only.get("operator") != "equals":
        raise BadRequest("The only supported operator is 'equals'")
    values = only.get("values")
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise BadRequest("'values' must be a non-empty list of strings")
    if only["fieldPath"] == "root.email":
        return "root.email", frozenset(v.lower() for v in values)
    return "root.id", frozenset(values)


def _json(body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status=200, mimetype="application/json", headers=headers)


@bp.post("/people/search")
def search() -> Response:
    user = _authorize(people_data=True)
    if isinstance(user, Response):
        return user
    state = _state()
    decision = state.rate(user, "search")
    headers = decision.headers() if decision else {}
    if decision and not decision.allowed:
        return hibob_error(429, "too.many.requests", "Rate limit exceeded", headers)
    try:
        body = _json_object()
        fields, mode = _fields_and_mode(body)
        match = _match(body)
        show_inactive = body.get("showInactive", False)
        if not isinstance(show_inactive, bool):
            raise BadRequest("'showInactive' must be a boolean")
    except BadRequest as exc:
        return hibob_error(400, "bad.request", str(exc), headers)
    return _json(state.search(user, fields, show_inactive, match, mode), headers)


@bp.post("/people/<identifier>")
def read(identifier: str) -> Response:
    user = _authorize(people_data=True)
    if isinstance(user, Response):
        return user
    state = _state()
    decision = state.rate(user, "read")
    headers = decision.headers() if decision else {}
    if decision and not decision.allowed:
        return hibob_error(429, "too.many.requests", "Rate limit exceeded", headers)
    try:
        fields, mode = _fields_and_mode(_json_object())
    except BadRequest as exc:
        return hibob_error(400, "bad.request", str(exc), headers)
    answer = state.read(user, identifier, fields, mode)
    if answer is None:
        return not_found()
    return _json(answer, headers)


@bp.get("/company/people/fields")
def fields() -> Response:
    user = _authorize(people_data=False)
    if isinstance(user, Response):
        return user
    # Metadata needs no data permission: every field is listed whatever the scope (§3).
    return _json(orjson.dumps([f.descriptor() for f in FIELDS]))


def _named_list(name: str, include_archived: bool) -> dict[str, Any] | None:
    items = _state().directory.list_items(name, include_archived)
    if items is None:
        return None
    # The live endpoint repeats the items under "values" and "items" (observed; §2.7).
    return {"name": name, "values": items, "items": items}


def _include_archived() -> bool:
    return request.args.get("includeArchived", "false").lower() == "true"


@bp.get("/company/named-lists")
def named_lists() -> Response:
    user = _authorize(people_data=False)
    if isinstance(user, Response):
        return user
    names = list(_state().directory.named_lists)
    return _json(orjson.dumps({n: _named_list(n, _include_archived()) for n in names}))


@bp.get("/company/named-lists/<name>")
def named_list(name: str) -> Response:
    user = _authorize(people_data=False)
    if isinstance(user, Response):
        return user
    answer = _named_list(name, _include_archived())  # names are case-sensitive, as in HiBob
    return not_found() if answer is None else _json(orjson.dumps(answer))


@bp.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str) -> Response:
    if request.method == "GET":
        return web_app_page()  # HiBob quirk: a wrong GET path answers 200 text/html
    return hibob_error(404, "not.found", f"No such endpoint: {request.method} /v1/{rest}")
