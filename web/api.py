"""The store-backend API (DESIGN "The store-backend API"), under /api/v1, store-token only.

Views validate with shared/schemas, act through shared/service (writes) or shared/db (reads),
and answer with shared/representations. Nothing here calls HiBob: work goes to the queues.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, g, jsonify, request, url_for
from marshmallow import Schema
from werkzeug.exceptions import UnsupportedMediaType

from shared import clock, representations, service
from shared import schemas as s
from shared.db import changes as changes_db
from shared.db import integrations as integrations_db
from shared.db import people as people_db
from shared.db import runs as runs_db
from web import current_context
from web import pagination as cursors
from web.auth import store_token
from web.openapi import operation

bp = store_token(Blueprint("api", __name__, url_prefix="/api/v1"))

_NO_BODY = object()
_INTEGRATION = "/integrations/<uuid:integration_id>"
_IGNORED = {
    "api_key": "HiBob retired API keys in 2025; peoplesync signs in with the service user's ID and token. "
               "The value was not stored.",
    "report_id": "peoplesync reads the people the service user's permission group shows, not a report. "
                 "The value was not stored.",
}


@bp.before_request
def _read_json_body() -> None:
    """Every POST/PUT/PATCH body must be JSON: 415 otherwise, 400 when it does not parse.

    Runs after the token check (registered later), so anonymous callers cannot make us parse.
    """
    g.json_body = _NO_BODY
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    data = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH: 413
    if not data:
        return
    if not request.is_json:
        raise UnsupportedMediaType()
    try:
        g.json_body = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: absurdly nested arrays fit in 1 MiB
        raise service.ServiceError("the body is not valid JSON") from None


def _body(schema: type[Schema]) -> dict[str, Any]:
    if g.json_body is _NO_BODY:
        raise service.ServiceError("a JSON body is required")
    return schema().load(g.json_body)


def _query(schema: type[Schema]) -> dict[str, Any]:
    return schema().load(request.args.to_dict(flat=True))


def _integration_json(view: service.IntegrationView) -> dict[str, Any]:
    return representations.integration(view, current_context().config.public_base_url)


def _ignored_credential_warnings(credentials: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"code": "field_ignored", "field": f"credentials.{key}", "message": message}
            for key, message in _IGNORED.items() if credentials.get(key) not in (None, "")]


def _no_content() -> Response:
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response


def _require_integration(conn: Any, integration_id: str) -> dict[str, Any]:
    row = integrations_db.get(conn, integration_id)
    if row is None:
        raise service.NotFound("no such integration")
    return row


def _require_run(conn: Any, integration_id: str, run_id: str) -> dict[str, Any]:
    _require_integration(conn, integration_id)
    run = runs_db.get(conn, run_id, integration_id)
    if run is None:
        raise service.NotFound("no such run for this integration")
    return run


# --- integrations --------------------------------------------------------------------------

@bp.post("/integrations")
@operation("Connect a store to HiBob", body=s.IntegrationCreateSchema, responses={202: s.IntegrationSchema},
           errors={409: "conflict: the store already has a live HiBob integration (`integration_id` names it)"},
           headers={202: {"Location": "The new integration's URL"}},
           provides={"integration_id": "$response.body#/id", "store_id": "$response.body#/store_id"},
           description="Answers at once in state `connecting`; the initial sync validates the credentials.")
def create_integration() -> Response:
    data = _body(s.IntegrationCreateSchema)
    ctx = current_context()
    row = service.create_integration(ctx, data["store_id"], data["credentials"], data.get("settings", {}),
                                     _ignored_credential_warnings(data["credentials"]))
    response = jsonify(_integration_json(service.describe(ctx, row["id"])))
    response.status_code = 202
    response.headers["Location"] = url_for(".get_integration", integration_id=row["id"])
    return response


@bp.get(_INTEGRATION)
@operation("An integration", responses={200: s.IntegrationSchema})
def get_integration(integration_id: Any) -> Response:
    return jsonify(_integration_json(service.describe(current_context(), str(integration_id))))


@bp.get("/stores/<store:store_id>/integration")
@operation("The store's live integration", responses={200: s.IntegrationSchema},
           description="404 when the store has no integration that is not disconnected.")
def get_store_integration(store_id: str) -> Response:
    return jsonify(_integration_json(service.describe_live_for_store(current_context(), store_id)))


@bp.patch(_INTEGRATION)
@operation("Change credentials and/or settings", body=s.IntegrationUpdateSchema,
           responses={200: s.IntegrationSchema}, errors={409: "conflict: the integration is disconnected"},
           description="New credentials put the integration back in `connecting` until a run validates "
                       "them; changing sync_birthdays, include_future_joiners or timezone queues a sync.")
def update_integration(integration_id: Any) -> Response:
    data = _body(s.IntegrationUpdateSchema)
    ctx = current_context()
    credentials = data.get("credentials")
    service.update_integration(ctx, str(integration_id), credentials, data.get("settings"),
                               warnings=_ignored_credential_warnings(credentials) if credentials else None)
    return jsonify(_integration_json(service.describe(ctx, str(integration_id))))


@bp.post(_INTEGRATION + "/sync")
@operation("Sync now", responses={202: s.RunRefSchema}, errors={409: "conflict: the integration is disconnected"},
           provides={"integration_id": "$request.path.integration_id", "run_id": "$response.body#/run_id"},
           description="A queued run is returned, not duplicated; while one runs, one follow-up is queued. "
                       "Any request body is ignored.")
def request_sync(integration_id: Any) -> Response:
    run_id = service.request_sync(current_context(), str(integration_id))
    response = jsonify({"run_id": run_id})
    response.status_code = 202
    return response


@bp.put(_INTEGRATION + "/webhook-secret")
@operation("Set the HiBob webhook secret", body=s.WebhookSecretInputSchema, responses={204: None},
           errors={409: "conflict: the integration is disconnected"},
           description="Turns on real-time updates; the previous secret stays valid for 24 hours.")
def set_webhook_secret(integration_id: Any) -> Response:
    data = _body(s.WebhookSecretInputSchema)
    service.set_webhook_secret(current_context(), str(integration_id), data["secret"])
    return _no_content()


@bp.delete(_INTEGRATION)
@operation("Disconnect", query=s.DisconnectQuerySchema, responses={204: None},
           description="Stops syncing. People stay unless ?people=remove (marked removed) or ?people=purge "
                       "(erased). Repeating it is harmless.")
def disconnect(integration_id: Any) -> Response:
    mode = _query(s.DisconnectQuerySchema).get("people")
    service.disconnect(current_context(), str(integration_id), mode)
    return _no_content()


# --- held removals -------------------------------------------------------------------------
# The removal guard (docs/removal-guard.md): past the limit, removals wait here for a decision.

@bp.get(_INTEGRATION + "/removals")
@operation("Removals held by the removal guard", responses={200: s.HeldRemovalsSchema},
           description="404 when nothing is held. `batch_id` changes whenever the held people change; "
                       "each person's `removal_reason` is why they would be removed.")
def held_removals(integration_id: Any) -> Response:
    batch = service.held_removals(current_context(), str(integration_id))
    if batch is None:
        raise service.NotFound("nothing is held for this integration")
    return jsonify(representations.held_removals(batch))


def _decide(integration_id: str, approve: bool) -> Response:
    data = _body(s.RemovalDecisionInputSchema)
    run_id = service.decide_removals(current_context(), integration_id, data["batch_id"], approve,
                                     data.get("actor"))
    return jsonify({"run_id": run_id})


@bp.post(_INTEGRATION + "/removals/approve")
@operation("Approve the held removals", body=s.RemovalDecisionInputSchema, responses={200: s.RunRefSchema},
           errors={409: "batch_changed: the held list changed since that batch was read"},
           description="Removes the people of that batch at once, in a run with trigger `approval`; "
                       "the actor is recorded with each change.")
def approve_removals(integration_id: Any) -> Response:
    return _decide(str(integration_id), True)


@bp.post(_INTEGRATION + "/removals/reject")
@operation("Reject the held removals (the people stay)", body=s.RemovalDecisionInputSchema,
           responses={200: s.RunRefSchema},
           errors={409: "batch_changed: the held list changed since that batch was read"},
           description="The people stay active and are not proposed for removal again until HiBob shows "
                       "them again and then drops them anew. Recorded, with the actor, in a run with "
                       "trigger `approval`.")
def reject_removals(integration_id: Any) -> Response:
    return _decide(str(integration_id), False)


# --- runs ----------------------------------------------------------------------------------

@bp.get(_INTEGRATION + "/runs")
@operation("Run history, newest first", query=s.PageQuerySchema, responses={200: s.RunPageSchema})
def list_runs(integration_id: Any) -> Response:
    args = _query(s.PageQuerySchema)
    before = cursors.runs_position(args["cursor"]) if "cursor" in args else None
    limit = args["limit"]
    with current_context().db.begin() as conn:
        _require_integration(conn, str(integration_id))
        rows = runs_db.page(conn, str(integration_id), limit + 1, before)
    items = rows[:limit]
    return jsonify({"items": [representations.run(r) for r in items],
                    "next_cursor": cursors.runs_cursor(items[-1]) if len(rows) > limit else None})


@bp.get(_INTEGRATION + "/runs/<uuid:run_id>")
@operation("One run", responses={200: s.RunSchema})
def get_run(integration_id: Any, run_id: Any) -> Response:
    with current_context().db.begin() as conn:
        run = _require_run(conn, str(integration_id), str(run_id))
    return jsonify(representations.run(run))


@bp.get(_INTEGRATION + "/runs/<uuid:run_id>/changes")
@operation("The per-person changes a run made, in feed order", query=s.PageQuerySchema,
           responses={200: s.ChangePageSchema})
def list_run_changes(integration_id: Any, run_id: Any) -> Response:
    args = _query(s.PageQuerySchema)
    after = cursors.seq_position("run_changes", args["cursor"]) if "cursor" in args else 0
    limit = args["limit"]
    with current_context().db.begin() as conn:
        run = _require_run(conn, str(integration_id), str(run_id))
        rows = changes_db.page(conn, run["store_id"], after, limit + 1, run_id=run["id"])
    items = rows[:limit]
    return jsonify({"items": [representations.change(r) for r in items],
                    "next_cursor": cursors.seq_cursor("run_changes", items[-1]["seq"]) if len(rows) > limit
                    else None})


# --- the store's directory and feed --------------------------------------------------------

@bp.get("/stores/<store:store_id>/people")
@operation("The store's people, by last then first name", query=s.PeopleQuerySchema,
           responses={200: s.PersonPageSchema}, tag="store")
def list_people(store_id: str) -> Response:
    args = _query(s.PeopleQuerySchema)
    statuses = list(s.PERSON_STATUSES) if args["status"] == "all" else [args["status"]]
    after = cursors.people_position(args["cursor"]) if "cursor" in args else None
    limit = args["limit"]
    with current_context().db.begin() as conn:
        rows = people_db.page(conn, store_id, statuses, args.get("q"), limit + 1, after)
    items = rows[:limit]
    return jsonify({"items": [representations.person(r) for r in items],
                    "next_cursor": cursors.people_cursor(items[-1]) if len(rows) > limit else None})


@bp.get("/stores/<store:store_id>/changes")
@operation("The store's change feed", query=s.PageQuerySchema, responses={200: s.FeedPageSchema}, tag="store",
           description="Ordered by seq with no gaps. Unlike other lists, next_cursor is never null: it is "
                       "where to resume. An empty page means you are caught up; poll again with the same "
                       "cursor. Without a cursor the feed starts at its beginning.")
def store_feed(store_id: str) -> Response:
    args = _query(s.PageQuerySchema)
    after = cursors.seq_position("feed", args["cursor"]) if "cursor" in args else 0
    with current_context().db.begin() as conn:
        rows = changes_db.page(conn, store_id, after, args["limit"])
    # A poller must be able to resume where it stopped, so the cursor is the last seq seen (or the
    # one it came with), never null.
    last = rows[-1]["seq"] if rows else after
    return jsonify({"items": [representations.change(r) for r in rows],
                    "next_cursor": cursors.seq_cursor("feed", last)})


# --- the dashboard -------------------------------------------------------------------------

@bp.post("/stores/<store:store_id>/dashboard-link")
@operation("A link that opens the dashboard for one store", body=s.DashboardLinkInputSchema,
           responses={201: s.DashboardLinkSchema}, tag="store",
           description="Single use and valid 10 minutes; opening it starts an 8-hour dashboard session for this "
                       "store only. The body may be empty. The store need not be connected yet: the dashboard is "
                       "where its admin connects HiBob.")
def create_dashboard_link(store_id: str) -> Response:
    from web.dashboard import links  # the dashboard owns its link format

    data = {} if g.json_body is _NO_BODY else _body(s.DashboardLinkInputSchema)
    link = links.mint(current_context(), store_id, data.get("actor"))
    response = jsonify({"url": link.url, "expires_at": clock.rfc3339(link.expires_at)})
    response.status_code = 201
    return response
