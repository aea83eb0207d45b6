"""Builders shared by the reconcile tests (no tests here): stored people and HiBob employees."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from shared.reconcile import SyncPlan, apply_plan, plan_sync

TODAY = date(2025, 6, 15)
NOW = "2025-06-15T06:00:00Z"
SETTINGS = {"sync_birthdays": True, "include_future_joiners": False}
# Every tracked field present for everyone last time.
FULL_PRESENCE = {name: 1.0 for name in (
    "email", "first_name", "last_name", "display_name", "birthday", "start_date", "department",
    "site", "status", "lifecycle_status", "termination_date", "last_day_of_work")}


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


def employee(external_id: str = "1", **fields: Any) -> dict[str, Any]:
    """An employed HiBob employee with every field visible; ``fields`` override, ``...`` hides."""
    n = external_id
    values: dict[str, Any] = {
        "external_id": n, "email": f"p{n}@example.com", "first_name": f"First{n}",
        "last_name": f"Last{n}", "display_name": f"First{n} Last{n}", "birthday": "08-10",
        "start_date": "2020-01-06", "department": "Engineering", "site": "Paris",
        "status": "Active", "lifecycle_status": "employed", "termination_date": None,
        "last_day_of_work": None,
    }
    values.update(fields)
    return {key: value for key, value in values.items() if value is not ...}


def person(external_id: str = "1", **fields: Any) -> dict[str, Any]:
    """A stored person as the DB layer hands it over, matching ``employee(external_id)``."""
    n = external_id
    values: dict[str, Any] = {
        "id": f"id-{n}", "external_id": n, "email": f"p{n}@example.com", "first_name": f"First{n}",
        "last_name": f"Last{n}", "display_name": f"First{n} Last{n}", "birthday": "08-10",
        "start_date": "2020-01-06", "department": "Engineering", "site": "Paris",
        "status": "active", "removal_reason": None, "leave_date": None, "removal_rejected": False,
    }
    values.update(fields)
    return values


def directory(*people: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["external_id"]: p for p in people}


def sync(stored: dict[str, dict[str, Any]], employees: list[dict[str, Any]], *,
         today: date = TODAY, presence: dict[str, float] | None = None,
         **settings: Any) -> SyncPlan:
    return plan_sync(stored, employees, today=today, settings={**SETTINGS, **settings},
                     field_presence_before=presence if presence is not None else {})


def sync_and_apply(stored, employees, **kwargs) -> tuple[SyncPlan, dict[str, dict[str, Any]]]:
    plan = sync(stored, employees, **kwargs)
    return plan, apply_plan(stored, plan, NOW)


def entries(plan: SyncPlan) -> dict[str, list[str]]:
    """Which kind of entry each external id got: {"1": ["update", "removal"]}."""
    found: dict[str, list[str]] = {}
    for add in plan.adds:
        found.setdefault(add["external_id"], []).append("add")
    for kind, items in (("update", plan.updates), ("restore", plan.restores),
                        ("removal", plan.removals)):
        for item in items:
            found.setdefault(item.external_id, []).append(kind)
    return found
