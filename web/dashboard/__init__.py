"""The store admin's screens (server-rendered HTML, a little progressive JavaScript), under /dashboard.

Authentication policy: a signed-link session for one store (see access.py). The only open
routes are the link itself and the static files; everything else needs a live session, and
every POST a CSRF token. Pages act through shared/service — the same functions the store-backend
API calls — and validate input with the API's own schemas (forms.py), so the two cannot disagree.
"""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from shared.service import ServiceError
from web import current_context
from web.dashboard import access, present

log = logging.getLogger(__name__)

_STATIC = Path(__file__).resolve().parent.parent / "static" / "dashboard"

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard", static_folder=str(_STATIC),
               static_url_path="/static")
bp.auth_policy = "dashboard_session"  # type: ignore[attr-defined]


def _ancestors() -> tuple[str, ...]:
    cached = current_app.extensions.get("peoplesync.frame_ancestors")
    if cached is None:
        cached = current_app.extensions["peoplesync.frame_ancestors"] = access.frame_ancestors(
            current_context().config)
    return cached


@bp.before_request
def _require_session() -> Response | tuple[str, int] | None:
    if request.endpoint in access.OPEN_ENDPOINTS:
        return None
    g.dashboard_page = True
    store_id = access.live_store()
    if store_id is None:
        return render_template("dashboard/refused.html", reason="no_session"), 401
    g.store_id = store_id
    if request.method == "POST" and not access.csrf_ok():
        return render_template("dashboard/error.html", title="This form has expired",
                               message="Reload the page and try again."), 400
    return None


@bp.after_request
def _headers(response: Response) -> Response:
    return access.security_headers(response, _ancestors())


@bp.context_processor
def _template_globals() -> dict:
    return {"fmt": present, **access.session_facts()}


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError) -> tuple[str, int]:
    return render_template("dashboard/error.html", title="That did not work", message=exc.message), exc.status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int]:
    status = exc.code or 500
    return render_template("dashboard/error.html", title=exc.name, message=exc.description), status


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> tuple[str, int]:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return render_template("dashboard/error.html", title="Something went wrong on our side",
                           message="It has been logged. Try again in a moment."), 500


@bp.get("/")
def index() -> Response:
    return redirect(url_for(".people"))


from web.dashboard import entry, history, panel, people, setup  # noqa: E402,F401  (routes)
