"""Opening a dashboard link: the one way into the dashboard."""
from __future__ import annotations

from flask import Response, redirect, render_template, request, url_for

from web import current_context
from web.dashboard import access, bp, links

_STATUS = {"invalid": 403, "expired": 410, "used": 410, "unavailable": 503}


@bp.get("/link/<token>")
def open_link(token: str) -> Response | tuple[str, int, dict[str, str]]:
    ctx = current_context()
    if request.method == "HEAD":  # link previewers probe with HEAD: that must not use the link up
        return "", 204, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    try:
        grant = links.redeem(ctx, token)
    except links.LinkRefused as refused:
        # The same browser following its own link again (the back button) just carries on.
        if refused.reason == "used" and access.live_store() == refused.store_id:
            return redirect(url_for(".people"), 303)
        headers = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
        if refused.reason == "unavailable":
            headers["Retry-After"] = "30"
        return render_template("dashboard/refused.html", reason=refused.reason), _STATUS[refused.reason], headers
    access.start_session(grant)
    # Redirect so the token leaves the address bar and history; no-referrer so it never leaks.
    response = redirect(url_for(".people"), 303)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
