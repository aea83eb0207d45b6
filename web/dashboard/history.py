"""Sync history: every run with its trigger, duration and counts; each run's per-person changes.

Both lists are keyset-paginated with the API's own cursors (web/pagination.py).
"""
from __future__ import annotations

from typing import Any

from flask import Response, g, redirect, render_template, request, url_for

from shared import representations, service
from shared import schemas as s
from shared.db import changes as changes_db
from shared.db import people as people_db
from shared.db import runs as runs_db
from web import current_context
from web import pagination as cursors
from web.dashboard import bp, forms
from web.dashboard.panel import live_integration

RUNS_PER_PAGE = 25
CHANGES_PER_PAGE = 100


def _page_args() -> dict[str, Any]:
    query = {k: v for k, v in request.args.items() if k == "cursor" and v}
    try:
        return forms.load(s.PageQuerySchema, query)
    except forms.FormInvalid:
        return {}


@bp.get("/runs")
def runs() -> Response | str:
    integration = live_integration()
    if integration is None:
        return redirect(url_for(".hibob"))
    args = _page_args()
    try:
        before = cursors.runs_position(args["cursor"]) if "cursor" in args else None
    except cursors.BadCursor:
        before = None
    with current_context().db.begin() as conn:
        rows = runs_db.page(conn, integration["id"], RUNS_PER_PAGE + 1, before)
    items = rows[:RUNS_PER_PAGE]
    return render_template("dashboard/runs.html", integration=integration,
                           runs=[representations.run(r) for r in items], paged=before is not None,
                           next_cursor=cursors.runs_cursor(items[-1]) if len(rows) > RUNS_PER_PAGE else None)


@bp.get("/runs/<uuid:run_id>")
def run(run_id: Any) -> str:
    integration = live_integration()
    if integration is None:
        raise service.NotFound("This store is not connected to HiBob.")
    args = _page_args()
    try:
        after = cursors.seq_position("run_changes", args["cursor"]) if "cursor" in args else 0
    except cursors.BadCursor:
        after = 0
    with current_context().db.begin() as conn:
        row = runs_db.get(conn, str(run_id), integration["id"])
        if row is None or row["store_id"] != g.store_id:
            raise service.NotFound("No such sync run for this store.")
        changes = changes_db.page(conn, g.store_id, after, CHANGES_PER_PAGE + 1, run_id=row["id"])
        items = changes[:CHANGES_PER_PAGE]
        people = {p["id"]: p for p in people_db.by_ids(conn, [c["person_id"] for c in items if c["person_id"]])}
    entries = [{**representations.change(c), "person": people.get(c["person_id"])} for c in items]
    return render_template(
        "dashboard/run.html", integration=integration, run=representations.run(row), entries=entries,
        paged=after > 0,
        next_cursor=cursors.seq_cursor("run_changes", items[-1]["seq"]) if len(changes) > CHANGES_PER_PAGE else None)
