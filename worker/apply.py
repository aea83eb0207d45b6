"""Apply a reconciliation plan to the store in one transaction: people, change feed, run, state.

This is the single write path for every cause (full sync, webhook re-reads, effective dates,
approvals), so the removal guard, the change log and the feed behave the same whatever the cause.
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from shared import clock, reasons
from shared import reconcile
from shared.db import changes as changes_db
from shared.db import integrations as integrations_db
from shared.db import people as people_db
from shared.db import runs as runs_db
from shared.hibob.errors import PersonGone
from shared.reconcile.plan import SyncPlan
from shared.service import append_state_change
from worker.context import JobContext
from worker.joblog import job_log
from worker.notify import enqueue_notify

GUARD_WINDOW = timedelta(hours=24)


def sort_key(first: str | None, last: str | None, display: str | None) -> str:
    """The people list's order: last name, first name (display name when both are missing)."""
    key = f"{last or ''} {first or ''}".strip() or (display or "")
    return key.lower()[:400]


def read_people(client, employee_ids: list[str]) -> list[tuple[str, dict[str, Any] | None]]:
    """Re-read a few employees one by one; a 404 means HiBob deleted them (None)."""
    found = []
    for employee_id in employee_ids:
        try:
            found.append((employee_id, client.read_person(employee_id)))
        except PersonGone:
            found.append((employee_id, None))
    return found


def apply_run(ctx: JobContext, run_id: str, fetched: list[Any]) -> None:
    """Reconcile what HiBob returned for a run against the store and record the outcome."""
    now = clock.now()
    with ctx.db.begin() as conn:
        run = runs_db.get(conn, run_id)
        integration = integrations_db.get(conn, run["integration_id"], for_update=True)
        if run["status"] != "running" or integration["state"] == "disconnected":
            return  # a second copy of this run got here first, or the store let go meanwhile
        runs_db.update(conn, run_id, phase="applying", fetched=len(fetched))
        settings = integration["settings"]
        today = clock.today_in(settings["timezone"], now)
        if run["trigger"] == "initial":
            people_db.adopt(conn, integration["store_id"], integration["id"])
        if run["scope"]:
            ids = [employee_id for employee_id, _ in fetched]
            stored = people_db.for_sync(conn, integration["store_id"], ids)
            plan = SyncPlan()
            for employee_id, employee in fetched:
                one = reconcile.plan_person(stored.get(employee_id), employee, today=today, settings=settings)
                plan.adds += one.adds
                plan.updates += one.updates
                plan.removals += one.removals
                plan.restores += one.restores
                plan.clear_removal_rejected += one.clear_removal_rejected
                plan.unchanged += one.unchanged
                plan.ignored += one.ignored
        else:
            stored = people_db.for_sync(conn, integration["store_id"])
            plan = reconcile.plan_sync(stored, fetched, today=today, settings=settings,
                                       field_presence_before=integration["field_presence"])
        write_plan(conn, integration, run, plan, stored, now, interval_hours=ctx.config.sync_interval_hours)
    enqueue_notify(integration["store_id"])


def write_plan(conn, integration: dict[str, Any], run: dict[str, Any], plan: SyncPlan,
               stored: dict[str, dict[str, Any]], now, *, interval_hours: float,
               actor: dict | None = None) -> dict[str, int]:
    """Write a plan (people, feed, run, integration) inside the caller's transaction."""
    log = job_log(__name__, integration["id"], run["id"])
    store_id, integration_id = integration["store_id"], integration["id"]
    settings = integration["settings"]

    held_removals: list = []
    removals = plan.removals
    if removals:
        removed_in_window = changes_db.removals_since(conn, integration_id, now - GUARD_WINDOW)
        active_now = people_db.counts(conn, store_id)["active"]
        removals, held_removals = reconcile.guard_removals(
            removals, removed_in_window=removed_in_window,
            active_at_window_start=active_now + removed_in_window,
            percent=settings["removal_guard_percent"], minimum=settings["removal_guard_min"],
            already_held=integration["state"] == "held")

    feed: list[dict[str, Any]] = []
    base = {"at": now, "integration_id": integration_id, "run_id": run["id"], "cause": run["trigger"],
            "actor": actor}
    insert_rows = []
    for add in plan.adds:
        person_id = str(uuid.uuid4())
        row = {**add, "id": person_id, "store_id": store_id, "integration_id": integration_id,
               "removal_rejected": False, "added_at": now, "updated_at": now, "removed_at": None,
               "sort_key": sort_key(add.get("first_name"), add.get("last_name"), add.get("display_name"))}
        insert_rows.append(row)
        feed.append({**base, "kind": "person.added", "person_id": person_id, "external_id": add["external_id"],
                     "changes": {k: {"before": None, "after": add.get(k)}
                                 for k in reconcile.PROFILE_FIELDS + ("status",) if add.get(k) is not None}})
    update_rows = []
    for kind, entries in (("person.updated", plan.updates), ("person.restored", plan.restores)):
        for change in entries:
            values = dict(change.values)
            if {"first_name", "last_name", "display_name"} & values.keys():
                merged = {**stored.get(change.external_id, {}), **values}
                values["sort_key"] = sort_key(merged.get("first_name"), merged.get("last_name"),
                                              merged.get("display_name"))
            if kind == "person.restored":
                values["removed_at"] = None
            update_rows.append({"id": change.id, **values, "updated_at": now})
            feed.append({**base, "kind": kind, "person_id": change.id, "external_id": change.external_id,
                         "changes": change.changes})
    for removal in removals:
        update_rows.append({"id": removal.id, "status": "removed", "removal_reason": removal.reason,
                            "removed_at": now, "updated_at": now})
        feed.append({**base, "kind": "person.removed", "person_id": removal.id,
                     "external_id": removal.external_id, "changes": removal.changes})
    for person_id in plan.clear_removal_rejected:
        update_rows.append({"id": person_id, "removal_rejected": False})

    people_db.insert(conn, insert_rows)
    people_db.update(conn, update_rows)

    counts = {**plan.counts(), "removed": len(removals), "held": len(held_removals)}
    state = integration["state"]
    new_state = "held" if held_removals else ("held" if state == "held" else "active")
    if held_removals and state != "held":
        feed.append({**base, "kind": "removals.held",
                     "changes": {"held": {"before": 0, "after": len(held_removals)}}})
    changes_db.append(conn, store_id, feed)

    runs_db.update(conn, run["id"], status="succeeded", phase=None, finished_at=now, counts=counts, error=None)
    values: dict[str, Any] = {"state": new_state, "updated_at": now}
    if new_state != "held":
        values["state_reason"] = None
    if plan.field_presence_after is not None:  # a full sync: it is the one that knows the warnings
        interval = timedelta(hours=interval_hours)
        values.update(field_presence=plan.field_presence_after, warnings=_warnings(integration, plan),
                      failure_count=0, next_run_at=now + interval)
    elif state in ("connecting", "needs_attention"):
        values["failure_count"] = 0
    integrations_db.update(conn, integration_id, **values)
    append_state_change(conn, integration, state, new_state, now, run_id=run["id"])
    log.info("applied: %s", counts)
    return counts


def _warnings(integration: dict[str, Any], plan: SyncPlan) -> list[dict[str, Any]]:
    """Warnings of a full sync replace the previous ones, except `field_ignored` (set at creation)."""
    kept = [w for w in integration["warnings"] if w.get("code") == "field_ignored"]
    out = kept + list(plan.warnings)
    for w in out:
        if w.get("code") == "birthdays_not_visible":
            w.update(reasons.birthday_warning())
    return out


def apply_effective_dates(ctx: JobContext, integration_id: str) -> int:
    """Start and leaving dates that have arrived; recorded as an `effective_date` run."""
    now = clock.now()
    with ctx.db.begin() as conn:
        integration = integrations_db.get(conn, integration_id, for_update=True)
        if integration is None or integration["state"] not in ("active", "held"):
            return 0
        today = clock.today_in(integration["settings"]["timezone"], now)
        due = people_db.due_effective(conn, integration["store_id"], today.isoformat())
        if not due:
            return 0
        plan = reconcile.plan_effective_dates(due.values(), today)
        if plan.is_empty:
            return 0
        run = runs_db.create(conn, {"id": str(uuid.uuid4()), "integration_id": integration_id,
                                    "store_id": integration["store_id"], "trigger": "effective_date",
                                    "status": "running", "created_at": now, "started_at": now,
                                    "fetched": 0})
        counts = write_plan(conn, integration, run, plan, due, now,
                            interval_hours=ctx.config.sync_interval_hours)
    enqueue_notify(integration["store_id"])
    return sum(counts.values()) - counts["unchanged"]
