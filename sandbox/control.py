"""The control API under ``/_control``: change the sandbox the way an HR admin changes HiBob.

No authentication: the sandbox binds to loopback and exists for local runs, demos and tests.
Answers are JSON; errors are ``{"error": message}`` with 400 (bad input), 404 (unknown person,
user, list item or webhook), 409 (a change HiBob would refuse) or 422 (webhook ping failed).
Every people change emits the webhooks v2 events HiBob would send. docs/sandbox.md lists every
endpoint with an example.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from shared.clock import parse_instant
from sandbox.directory import UNSET, ChangeRefused
from sandbox.people import Person
from sandbox.state import SandboxState

bp = Blueprint("control", __name__)


def _state() -> SandboxState:
    return current_app.extensions["sandbox"]


def _error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None and request.get_data().strip():
        raise ValueError("the body must be JSON")
    if body is not None and not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body or {}


def _since() -> int:
    return int(request.args.get("since", "0"))


@bp.before_request
def _tick() -> None:
    _state().tick()


@bp.errorhandler(ValueError)
def _bad_input(exc: ValueError) -> Response:
    if isinstance(exc, ChangeRefused):
        return _error(409, str(exc))
    return _error(400, str(exc))


@bp.errorhandler(KeyError)
def _unknown(exc: KeyError) -> Response:
    return _error(404, f"not found: {exc.args[0] if exc.args else ''}")


def _person(identifier: str) -> Person:
    person = _state().directory.find(identifier)
    if person is None:
        raise KeyError(identifier)
    return person


@bp.get("/")
def index() -> Response:
    rules = sorted(f"{sorted(r.methods - {'HEAD', 'OPTIONS'})} {r.rule}"
                   for r in current_app.url_map.iter_rules() if r.rule.startswith("/_control"))
    return jsonify({"endpoints": rules, "docs": "docs/sandbox.md"})


@bp.get("/state")
def state() -> Response:
    return jsonify(_state().describe())


@bp.post("/reset")
def reset() -> Response:
    body = _body()
    state = _state()
    state.reset(people=int(body.get("people", len(state.directory.people))),
                seed=int(body.get("seed", state.seed)))
    return jsonify(state.describe())


# -- people ------------------------------------------------------------------------------------

@bp.get("/people")
def people() -> Response:
    lifecycle, status = request.args.get("lifecycle"), request.args.get("status")
    query = (request.args.get("q") or "").lower()
    limit, offset = int(request.args.get("limit", "1000")), int(request.args.get("offset", "0"))
    found = [p.summary() for p in _state().directory.snapshot()
             if (not lifecycle or p.lifecycle == lifecycle) and (not status or p.status == status)
             and (not query or query in (p.values["root.displayName"] + " "
                                         + (p.email or "")).lower())]
    return jsonify({"total": len(found), "people": found[offset:offset + limit]})


@bp.get("/people/<identifier>")
def person(identifier: str) -> Response:
    found = _person(identifier)
    summary = found.summary()
    summary["leave"] = {"type": found.leave_type, "active": found.leave_active}
    return jsonify(summary)


@bp.post("/people")
def hire() -> Response:
    body = _body()
    if not body.get("first_name") or not body.get("surname"):
        raise ValueError("first_name and surname are required")
    birthday = body.get("birthday")
    if birthday and len(birthday) == 5:
        birthday = ("1992-" if birthday == "02-29" else "1990-") + birthday
    hired = _state().directory.hire(
        body["first_name"], body["surname"], email=body.get("email", UNSET),
        start_date=body.get("start_date"), department=body.get("department"),
        birth_date=birthday, site=body.get("site"), person_id=body.get("id"))
    return jsonify(hired.summary()), 201


@bp.patch("/people/<identifier>")
def update(identifier: str) -> Response:
    body = _body()
    allowed = {"email", "birthday", "department", "first_name", "surname"}
    if not body or set(body) - allowed:
        raise ValueError(f"send one or more of {sorted(allowed)}")
    changes = {key: body[key] for key in allowed if key in body}
    return jsonify(_state().directory.update(_person(identifier).id, **changes).summary())


@bp.delete("/people/<identifier>")
def delete(identifier: str) -> Response:
    _state().directory.delete(_person(identifier).id)
    return Response(status=204)


@bp.post("/people/<identifier>/terminate")
def terminate(identifier: str) -> Response:
    body = _body()
    return jsonify(_state().directory.terminate(
        _person(identifier).id, termination_date=body.get("termination_date"),
        last_day_of_work=body.get("last_day_of_work"), reason=body.get("reason")).summary())


@bp.post("/people/<identifier>/rehire")
def rehire(identifier: str) -> Response:
    body = _body()
    return jsonify(_state().directory.rehire(
        _person(identifier).id, start_date=body.get("start_date")).summary())


@bp.post("/people/<identifier>/leave")
def leave(identifier: str) -> Response:
    body = _body()
    return jsonify(_state().directory.start_leave(
        _person(identifier).id, leave_type=body.get("type", "leave"),
        active=bool(body.get("active", False))).summary())


@bp.post("/people/<identifier>/return")
def back_from_leave(identifier: str) -> Response:
    return jsonify(_state().directory.end_leave(_person(identifier).id).summary())


# -- named lists -------------------------------------------------------------------------------

@bp.get("/named-lists/<name>")
def named_list(name: str) -> Response:
    items = _state().directory.list_items(name, include_archived=True)
    if items is None:
        raise KeyError(name)
    return jsonify({"name": name, "items": items})


@bp.post("/named-lists/<name>")
def add_list_item(name: str) -> Response:
    body = _body()
    if not body.get("name"):
        raise ValueError("name is required")
    item = _state().directory.add_list_item(name, body["name"], bool(body.get("archived")))
    return jsonify(item), 201


@bp.patch("/named-lists/<name>/<item>")
def rename_list_item(name: str, item: str) -> Response:
    body = _body()
    if not body.get("name"):
        raise ValueError("name is required")
    return jsonify(_state().directory.rename_list_item(name, item, body["name"]))


# -- service users -----------------------------------------------------------------------------

SCOPE_KEYS = ("in_group", "categories", "departments", "lifecycle_statuses", "employee_ids")


@bp.get("/service-users")
def service_users() -> Response:
    state = _state()
    return jsonify({"default": state.default_user.id,
                    "predefined": {name: u.id for name, u in state.predefined.items()},
                    "service_users": [u.describe() for u in state.service_users.values()]})


@bp.post("/service-users")
def add_service_user() -> Response:
    body = _body()
    extra = set(body) - set(SCOPE_KEYS) - {"id", "token", "label"}
    if extra:
        raise ValueError(f"unknown keys: {sorted(extra)}")
    options = {key: body[key] for key in SCOPE_KEYS if key in body}
    user = _state().add_service_user(user_id=body.get("id"), token=body.get("token"),
                                      label=body.get("label", ""), **options)
    return jsonify(user.describe()), 201


@bp.patch("/service-users/<user_id>")
def change_service_user(user_id: str) -> Response:
    body = _body()
    if not body or set(body) - set(SCOPE_KEYS):
        raise ValueError(f"send one or more of {list(SCOPE_KEYS)}")
    return jsonify(_state().update_service_user(user_id, **body).describe())


# -- faults, clock, config, call log -----------------------------------------------------------

@bp.get("/faults")
def faults() -> Response:
    return jsonify({"faults": _state().faults()})


@bp.post("/faults")
def add_fault() -> Response:
    body = _body()
    fault = _state().add_fault(
        body.get("kind", "status"), endpoint=body.get("endpoint", "*"),
        status=int(body.get("status", 503)), delay=float(body.get("delay", 0.0)),
        count=int(body.get("count", 1)))
    return jsonify(vars(fault)), 201


@bp.delete("/faults")
def clear_faults() -> Response:
    _state().clear_faults()
    return Response(status=204)


def _clock_view() -> dict[str, Any]:
    clock = _state().clock
    return {"now": clock.now().isoformat().replace("+00:00", "Z"), "today": str(clock.today()),
            "source": clock.source()}


@bp.get("/clock")
def clock() -> Response:
    return jsonify(_clock_view())


@bp.put("/clock")
def set_clock() -> Response:
    body = _body()
    state = _state()
    if "now" in body:
        state.clock.set(parse_instant(body["now"]))
    elif "advance_days" in body or "advance_seconds" in body:
        state.clock.advance(timedelta(days=float(body.get("advance_days", 0)),
                                      seconds=float(body.get("advance_seconds", 0))))
    else:
        raise ValueError("send now (RFC 3339), advance_days or advance_seconds")
    moved = state.tick()
    return jsonify({**_clock_view(), "people_moved": moved})


@bp.delete("/clock")
def reset_clock() -> Response:
    state = _state()
    state.clock.reset()
    return jsonify({**_clock_view(), "people_moved": state.tick()})


@bp.get("/config")
def config() -> Response:
    state = _state()
    return jsonify({"search_limit": state.search_limit, "read_limit": state.read_limit,
                    "rate_window": state.rate_window,
                    "field_updates_shape": state.webhooks.field_updates_shape,
                    "webhook_retry_delays": list(state.webhooks.retry_delays),
                    "webhook_timeout": state.webhooks.timeout})


@bp.patch("/config")
def change_config() -> Response:
    body = _body()
    state = _state()
    for key, value in body.items():
        if key in ("search_limit", "read_limit"):
            setattr(state, key, None if value is None else int(value))
        elif key == "rate_window":
            state.rate_window = float(value)
        elif key == "field_updates_shape" and value in ("objects", "strings"):
            state.webhooks.field_updates_shape = value
        elif key == "webhook_retry_delays":
            state.webhooks.retry_delays = tuple(float(v) for v in value)
        elif key == "webhook_timeout":
            state.webhooks.timeout = float(value)
        else:
            raise ValueError(f"unknown or invalid setting {key!r}")
    if {"search_limit", "read_limit", "rate_window"} & set(body):
        state.limiter.clear()
    return config()


@bp.get("/calls")
def calls() -> Response:
    return jsonify({"calls": _state().calls(_since())})


@bp.delete("/calls")
def clear_calls() -> Response:
    _state().clear_calls()
    return Response(status=204)


# -- webhooks ----------------------------------------------------------------------------------

@bp.get("/webhooks")
def webhooks() -> Response:
    return jsonify({"webhooks": [w.describe() for w in _state().webhooks.webhooks()]})


@bp.post("/webhooks")
def register_webhook() -> Response:
    body = _body()
    if not body.get("url") or not body.get("secret"):
        raise ValueError("url and secret are required")
    hook, pings = _state().webhooks.register(body["url"], body["secret"],
                                             events=body.get("events"),
                                             force=bool(body.get("force")))
    answer = {**hook.describe(), "ping": pings}
    if not hook.established and not body.get("force"):
        return jsonify({**answer, "error": "the ping got no 2xx: webhook not established"}), 422
    return jsonify(answer), 201


@bp.delete("/webhooks/<hook_id>")
def remove_webhook(hook_id: str) -> Response:
    if not _state().webhooks.remove(hook_id):
        raise KeyError(hook_id)
    return Response(status=204)


@bp.get("/webhooks/deliveries")
def deliveries() -> Response:
    return jsonify({"deliveries": _state().webhooks.deliveries(_since())})


@bp.get("/events")
def events() -> Response:
    return jsonify({"events": _state().webhooks.events(_since())})

