"""Apply a reconciliation plan to the store in one transaction: people, change feed, run, state.

This is the single write path for every cause (full sync, webhook re-reads, effective dates,
approvals), so the removal guard, the change log and the feed behave the same whatever the cause.
"""
from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

from shared import clock, reasons
from shared import reconcile
from shared.db import changes as changes_db
from shared.db import integrations as integrations_db
from shared.db import people as people_db
from shared.db import removals as removals_db
from shared.db import runs as runs_db
from shared.hibob.errors import PersonGone
from shared.reconcile.guard import RemovalGuard
from shared.reconcile.plan import Removal, SyncPlan
from shared.service import append_state_change
from worker.context import JobContext
from worker.joblog import job_log
from worker.notify import enqueue_notify

GUARD_WINDOW = timedelta(hours=24)


def spread_offset(integration_id: str, interval: timedelta) -> timedelta:
    """A stable per-integration offset within the last tenth of the interval: the next full sync
    comes that much early, so integrations created together (or restored from a backup together)
    drift apart instead of syncing in the same minute, and each still syncs at least once per
    interval."""
    fraction = int(hashlib.sha1(integration_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return interval * 0.1 * fraction


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
               actor: dict | None = None, decision: dict[str, Any] | None = None) -> dict[str, int]:
    """Write a plan (people, feed, held removals, run, integration) inside the caller's transaction.

    ``stored`` is what the run looked at (external id -> stored person): a held person in it whom
    the plan no longer removes has reappeared in HiBob and leaves the held list. An ``approval``
    run applies its removals without the guard (an admin chose them) and ``decision`` describes
    that choice for the change log.
    """
    log = job_log(__name__, integration["id"], run["id"])
    store_id, integration_id = integration["store_id"], integration["id"]
    state = integration["state"]
    approval = run["trigger"] == "approval"

    removals, held_now, threshold = plan.removals, [], None
    held_before = {} if approval else removals_db.held(conn, integration_id)
    if removals and not approval:
        removed_in_window = removals_db.removed_in_window(conn, integration_id, now - GUARD_WINDOW)
        # Active now plus those removed since: the active people at the start of the window
        # (joiners of the window included), so the limit stays put while the window fills.
        active_at_start = people_db.counts(conn, store_id)["active"] + removed_in_window
        guard = RemovalGuard.from_settings(integration["settings"])
        threshold = guard.threshold(active_at_start)
        removals, held_now = guard.split(removals, removed_in_window=removed_in_window,
                                         active_at_window_start=active_at_start,
                                         already_held=state == "held" or bool(held_before))

    feed: list[dict[str, Any]] = []
    base = {"at": now, "integration_id": integration_id, "run_id": run["id"], "cause": run["trigger"],
            "actor": actor}
    insert_rows = []
    added_fields = reconcile.PROFILE_FIELDS + ("status",)
    for add in plan.adds:
        person_id = str(uuid.uuid4())
        row = {**add, "id": person_id, "store_id": store_id, "integration_id": integration_id,
               "removal_rejected": False, "added_at": now, "updated_at": now, "removed_at": None,
               "sort_key": sort_key(add.get("first_name"), add.get("last_name"), add.get("display_name"))}
        insert_rows.append(row)
        feed.append({**base, "kind": "person.added", "person_id": person_id, "external_id": add["external_id"],
                     "changes": {k: {"before": None, "after": v}
                                 for k in added_fields if (v := add.get(k)) is not None}})
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

    held_after = _held_after(held_before, held_now, stored, run["id"], now)
    if held_after != held_before:
        batch_before = removals_db.batch(conn, integration_id)
        batch_id = removals_db.replace(conn, integration_id, store_id, held_after, now=now, threshold=threshold)
        if held_after.keys() != held_before.keys():
            feed.append({**base, "kind": "removals.held", "changes": {
                "held": {"before": len(held_before), "after": len(held_after)},
                "batch_id": {"before": batch_before["batch_id"] if batch_before else None, "after": batch_id}}})

    counts = {**plan.counts(), "removed": len(removals), "held": len(held_now)}
    if approval:
        # A decision settles the held list; it says nothing about HiBob, so any other state stays.
        new_state = "active" if state == "held" else state
    else:
        new_state = "held" if held_after else "active"
    if decision is not None:
        feed.append(_decision_entry(base, decision, actor, state, new_state))
    changes_db.append(conn, store_id, feed)

    runs_db.update(conn, run["id"], status="succeeded", phase=None, finished_at=now, counts=counts, error=None)
    values: dict[str, Any] = {"state": new_state, "updated_at": now}
    if new_state in ("active", "held"):
        values["state_reason"] = None
    if plan.field_presence_after is not None:  # a full sync: it is the one that knows the warnings
        interval = timedelta(hours=interval_hours)
        values.update(field_presence=plan.field_presence_after, warnings=_warnings(integration, plan),
                      failure_count=0, next_run_at=now + interval - spread_offset(integration_id, interval))
    elif state in ("connecting", "needs_attention") and not approval:
        values["failure_count"] = 0
    integrations_db.update(conn, integration_id, **values)
    if decision is None:  # a decision's entry above already records the state change, with its actor
        append_state_change(conn, integration, state, new_state, now, run_id=run["id"])
    log.info("applied: %s", counts)
    return counts


def _held_after(held_before: dict[str, dict[str, Any]], held_now: list, stored: dict[str, dict[str, Any]],
                run_id: str, now) -> dict[str, dict[str, Any]]:
    """The held list after a run: the run's held removals, plus the earlier ones it did not look at.

    An earlier held person the run looked at and no longer removes is back in HiBob: they drop out.
    """
    if not held_before and not held_now:
        return {}
    looked_at = {person["id"] for person in stored.values()}
    after = {person_id: entry for person_id, entry in held_before.items() if person_id not in looked_at}
    for removal in held_now:
        earlier = held_before.get(removal.id)
        after[removal.id] = {"person_id": removal.id, "external_id": removal.external_id,
                             "reason": removal.reason,
                             "held_at": earlier["held_at"] if earlier else now,
                             "run_id": earlier["run_id"] if earlier else run_id}
    return after


def _decision_entry(base: dict[str, Any], decision: dict[str, Any], actor: dict | None, state: str,
                    new_state: str) -> dict[str, Any]:
    """The change-log entry of an admin's decision on held removals (kind integration.state_changed)."""
    changes: dict[str, Any] = {}
    if state != new_state:
        changes["state"] = {"before": state, "after": new_state}
    changes.update({
        "held_removals": {"before": len(decision["external_ids"]), "after": 0},
        "batch_id": {"before": decision["batch_id"], "after": None},
        "decision": {"before": None, "after": decision["decision"]},
        "decided_by": {"before": None, "after": actor},
    })
    if decision["decision"] == "rejected":
        changes["rejected"] = {"before": None, "after": list(decision["external_ids"])}
    return {**base, "kind": "integration.state_changed", "changes": changes}


def decide_removals(conn, integration: dict[str, Any], batch: dict[str, Any], *, approve: bool,
                    actor: dict | None, now, interval_hours: float) -> str:
    """Approve or reject an integration's held batch, as one `approval` run; returns its id.

    The caller holds the integration row and has checked ``batch`` is the one the admin read.
    Approved people are removed through ``write_plan`` like any other removal; rejected people
    stay and get ``removal_rejected``, so nothing proposes removing them until HiBob shows them
    again and then drops them anew.
    """
    held = removals_db.held_people(conn, integration["id"])
    removals_db.clear(conn, integration["id"])
    run = runs_db.create(conn, {"id": str(uuid.uuid4()), "integration_id": integration["id"],
                                "store_id": integration["store_id"], "trigger": "approval",
                                "status": "running", "created_at": now, "started_at": now, "actor": actor})
    live = [p for p in held if p["status"] != "removed"]
    plan = SyncPlan()
    if approve:
        plan.removals = [Removal.of(p, p["held_reason"]) for p in live]
    else:
        people_db.update(conn, [{"id": p["id"], "removal_rejected": True} for p in live])
        plan.unchanged = len(live)
    decision = {"decision": "approved" if approve else "rejected", "batch_id": batch["batch_id"],
                "external_ids": [p["external_id"] for p in held]}
    write_plan(conn, integration, run, plan, {p["external_id"]: p for p in held}, now,
               interval_hours=interval_hours, actor=actor, decision=decision)
    return run["id"]


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
        held = removals_db.held(conn, integration_id)
        if held:  # their removal already waits for an admin: re-proposing it each pass adds nothing
            due = {key: person for key, person in due.items() if person["id"] not in held}
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
