"""The integration panel: state and reason with the fix, warnings, progress, last and next sync,
Sync now, real-time updates (webhook URL, secret, last ping and event), update token, settings,
disconnect, and held removals with Approve/Reject.

The integration is always the session store's live one, never an id from the URL, so a session
can act on its own store only. Every action is the API's: same schema, same service function.
"""
from __future__ import annotations

from typing import Any

from flask import Response, flash, g, jsonify, redirect, render_template, request, url_for

from shared import representations, service
from shared import schemas as s
from web import api, current_context
from web.dashboard import access, bp, forms, present

DISCONNECT_CHOICES = (
    ("keep", "Keep them in the store (they stop updating)"),
    ("remove", "Mark them all removed"),
    ("purge", "Erase them from the store"),
)


def live_integration() -> dict[str, Any] | None:
    """The session store's live integration as the API represents it, or None."""
    ctx = current_context()
    try:
        view = service.describe_live_for_store(ctx, g.store_id)
    except service.NotFound:
        return None
    return representations.integration(view, ctx.config.public_base_url)


def held_batch(integration: dict[str, Any]) -> dict[str, Any] | None:
    """The held removals as the API answers them (batch_id, held_since, threshold, people), or None."""
    if not integration.get("held_removals") and integration["state"] != "held":
        return None
    batch = service.held_removals(current_context(), integration["id"])
    return representations.held_removals(batch) if batch else None


def _require_live() -> dict[str, Any]:
    integration = live_integration()
    if integration is None:
        raise service.NotFound("This store is not connected to HiBob.")
    return integration


def _page(integration: dict[str, Any], *, errors: dict[str, dict[str, list[str]]] | None = None,
          values: dict[str, Any] | None = None, status: int = 200) -> tuple[str, int]:
    return render_template(
        "dashboard/integration.html", integration=integration, held=held_batch(integration),
        errors=errors or {}, values=values or {}, zones=s.known_time_zones(),
        disconnect_choices=DISCONNECT_CHOICES), status


@bp.get("/integration")
def integration() -> Response | tuple[str, int]:
    found = live_integration()
    if found is None:
        return redirect(url_for(".hibob"))
    return _page(found)


@bp.get("/integration/status")
def integration_status() -> Response:
    """The live parts of the panel, for the page's script: server-rendered HTML by element id,
    and whether a run is under way (the script polls faster while it is)."""
    found = live_integration()
    if found is None:
        return jsonify({"busy": False, "state": None, "parts": {}})
    step = present.progress(found)
    parts = {"live-status": render_template("dashboard/_status.html", integration=found, held=held_batch(found)),
             "live-realtime": render_template("dashboard/_realtime.html", integration=found)}
    return jsonify({"busy": bool(step and step["busy"]), "state": found["state"], "parts": parts})


@bp.post("/integration/sync")
def sync_now() -> Response:
    found = _require_live()
    service.request_sync(current_context(), found["id"], actor=access.actor())
    flash("Sync started.", "success")
    return redirect(url_for(".integration"), 303)


@bp.post("/integration/webhook-secret")
def webhook_secret() -> Response | tuple[str, int]:
    found = _require_live()
    try:
        data = forms.load(s.WebhookSecretInputSchema, {"secret": request.form.get("secret", "")})
    except forms.FormInvalid as invalid:
        return _page(found, errors={"webhook": invalid.errors}, status=400)
    service.set_webhook_secret(current_context(), found["id"], data["secret"])
    flash("Webhook secret saved: real-time updates are on.", "success")
    return redirect(url_for(".integration", _anchor="realtime"), 303)


@bp.post("/integration/credentials")
def update_credentials() -> Response | tuple[str, int]:
    found = _require_live()
    try:
        data = forms.load(s.IntegrationUpdateSchema, {"credentials": forms.credentials(request.form)})
    except forms.FormInvalid as invalid:
        return _page(found, errors={"credentials": invalid.errors},
                     values={"service_user_id": request.form.get("service_user_id", "")}, status=400)
    credentials = data["credentials"]
    service.update_integration(current_context(), found["id"], credentials, None,
                               warnings=api._ignored_credential_warnings(credentials))
    flash("Token updated. peoplesync is checking it with HiBob now.", "success")
    return redirect(url_for(".integration"), 303)


@bp.post("/integration/settings")
def update_settings() -> Response | tuple[str, int]:
    found = _require_live()
    try:
        data = forms.load(s.IntegrationUpdateSchema, {"settings": forms.people_settings(request.form, guard=True)})
    except forms.FormInvalid as invalid:
        return _page(found, errors={"settings": invalid.errors}, status=400)
    service.update_integration(current_context(), found["id"], None, data["settings"])
    flash("Settings saved.", "success")
    return redirect(url_for(".integration", _anchor="settings"), 303)


@bp.post("/integration/disconnect")
def disconnect() -> Response | tuple[str, int]:
    found = _require_live()
    choice = request.form.get("people", "keep")
    try:
        data = forms.load(s.DisconnectQuerySchema, {} if choice == "keep" else {"people": choice})
    except forms.FormInvalid as invalid:
        return _page(found, errors={"disconnect": invalid.errors}, status=400)
    service.disconnect(current_context(), found["id"], data.get("people"))
    flash("HiBob is disconnected. Connect it again at any time.", "success")
    return redirect(url_for(".people"), 303)


@bp.post("/integration/removals/<any(approve, reject):decision>")
def decide_removals(decision: str) -> Response | tuple[str, int]:
    found = _require_live()
    document: dict[str, Any] = {"batch_id": request.form.get("batch_id", "")}
    if access.actor():
        document["actor"] = access.actor()
    try:
        data = forms.load(s.RemovalDecisionInputSchema, document)
    except forms.FormInvalid as invalid:
        return _page(found, errors={"removals": invalid.errors}, status=400)
    try:
        service.decide_removals(current_context(), found["id"], data["batch_id"], decision == "approve",
                                data.get("actor"))
    except service.BatchChanged:
        flash("The held list changed since this page was loaded. Review it again before deciding.", "error")
        return redirect(url_for(".integration", _anchor="held"), 303)
    flash("Removals approved: those people are being removed." if decision == "approve"
          else "Removals rejected: those people stay in the store.", "success")
    return redirect(url_for(".integration"), 303)
