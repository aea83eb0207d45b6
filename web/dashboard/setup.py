"""Upload people → Sync HRIS → HiBob: the setup guide's form, and the HiBob-side checklist beside it.

Integrate builds the API's create document from the form, validates it with
IntegrationCreateSchema and calls service.create_integration — the store-backend API's own path —
then shows the integration panel, whose progress updates live while the first sync runs.
"""
from __future__ import annotations

from typing import Any

from flask import Response, flash, g, redirect, render_template, request, url_for

from shared import reasons, service
from shared import schemas as s
from web import (
    api,  # the API's own field_ignored warnings (module import: web.api imports us too)
    current_context,
)
from web.dashboard import bp, forms
from web.dashboard.panel import live_integration

# Part 1 of the store's HiBob setup guide, as a checklist. The wording of the fixes an admin sees
# later (shared/reasons.py) is reused where the two say the same thing.
CHECKLIST: tuple[tuple[str, str], ...] = (
    ("Create a service user",
     ("In HiBob, go to Settings → Integrations → Service users and create one (for example "
      "“Store people sync”). Copy its ID and token: you paste them into this form.")),
    ("Create a permission group for it",
     ("Settings → Account → Permission groups → Create group. Under Select people, remove the default "
      "condition, so that the group's conditions decide exactly who is synced.")),
    ("Add the service user to the group",
     ("In the group's Members, add the service user. A service user in no permission group can sign in "
      "but cannot read anyone.")),
    ("Choose who is synced", reasons.STEP_CONDITIONS),
    ("Allow People's Data", reasons.STEP_PEOPLE_DATA),
    ("Birthdays (optional)", reasons.STEP_PERSONAL + " Without it, people sync without birthdays and the panel says so."),
)


def _form_defaults() -> dict[str, Any]:
    return {"service_user_id": "", "sync_birthdays": True, "include_future_joiners": False, "timezone": "UTC"}


def _render(values: dict[str, Any], errors: dict[str, list[str]], status: int = 200,
            message: str | None = None) -> tuple[str, int]:
    return render_template("dashboard/hibob.html", values=values, errors=errors, message=message,
                           checklist=CHECKLIST, zones=s.known_time_zones()), status


@bp.get("/hris/hibob")
def hibob() -> Response | tuple[str, int]:
    if live_integration() is not None:
        return redirect(url_for(".integration"))
    return _render(_form_defaults(), {})


@bp.post("/hris/hibob")
def integrate() -> Response | tuple[str, int]:
    form = request.form
    document = {"store_id": g.store_id, "provider": "hibob", "credentials": forms.credentials(form),
                "settings": forms.people_settings(form)}
    # Never echo the token back into the page; the service user ID is not a secret.
    values = {"service_user_id": form.get("service_user_id", ""), **document["settings"]}
    try:
        data = forms.load(s.IntegrationCreateSchema, document)
    except forms.FormInvalid as invalid:
        return _render(values, invalid.errors, 400)
    ctx = current_context()
    try:
        service.create_integration(ctx, data["store_id"], data["credentials"], data.get("settings", {}),
                                   api._ignored_credential_warnings(data["credentials"]))
    except service.ConflictError:
        flash("This store is already connected to HiBob.", "info")
        return redirect(url_for(".integration"), 303)
    flash("HiBob is connecting. You can follow the first sync below.", "success")
    return redirect(url_for(".integration"), 303)
