"""People & Budget: the store's synced people, and the way in to connecting an HRIS.

The list is keyset-paginated on the (store, status, sort_key, id) index, exactly like the API, so
page 2,000 of 100,000 people costs what page 1 costs; the counts are one grouped index scan.
"""
from __future__ import annotations

from typing import Any

from flask import g, render_template, request

from shared import representations
from shared import schemas as s
from shared.db import people as people_db
from web import current_context
from web import pagination as cursors
from web.dashboard import bp, forms
from web.dashboard.panel import live_integration

PAGE_SIZE = 50
STATUS_CHOICES = (("active", "Active"), ("upcoming", "Upcoming"), ("removed", "Removed"), ("all", "All"))


@bp.get("/people")
def people() -> str | tuple[str, int]:
    query = {k: v for k, v in request.args.items() if k in ("q", "status", "cursor") and v != ""}
    errors: dict[str, list[str]] = {}
    try:
        args = forms.load(s.PeopleQuerySchema, query)
        after = cursors.people_position(args["cursor"]) if "cursor" in args else None
    except forms.FormInvalid as invalid:
        errors, args, after = invalid.errors, {"status": "active"}, None
    except cursors.BadCursor:
        errors, args, after = {"cursor": ["That page link is not valid any more; here is the first page."]}, \
            {k: v for k, v in query.items() if k != "cursor"}, None
        args.setdefault("status", "active")
    statuses = list(s.PERSON_STATUSES) if args["status"] == "all" else [args["status"]]
    with current_context().db.begin() as conn:
        counts = people_db.counts(conn, g.store_id)
        rows = people_db.page(conn, g.store_id, statuses, args.get("q"), PAGE_SIZE + 1, after)
    items = rows[:PAGE_SIZE]
    next_cursor = cursors.people_cursor(items[-1]) if len(rows) > PAGE_SIZE else None
    page: dict[str, Any] = {
        "people": [representations.person(r) for r in items], "counts": counts, "next_cursor": next_cursor,
        "q": args.get("q", ""), "status": args["status"], "paged": after is not None,
        "status_choices": STATUS_CHOICES, "errors": errors, "integration": live_integration(),
    }
    return render_template("dashboard/people.html", **page), 400 if errors else 200


@bp.get("/upload")
def upload() -> str:
    return render_template("dashboard/upload.html", integration=live_integration())


@bp.get("/hris")
def hris() -> str:
    return render_template("dashboard/hris.html", integration=live_integration())
