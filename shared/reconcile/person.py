"""The per-person rule: what HiBob shows of one person against what the store holds.

``plan_visible`` and ``plan_gone`` are the only places where a person's fate is decided. The full
sync (``sync.plan_sync``) and the one-person re-read (``plan_person``, webhooks) both call them,
so a webhook and the nightly sync can never disagree about anyone.
"""
from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from shared.reconcile.classify import classify, parse_date
from shared.reconcile.plan import (LIFECYCLE_FIELDS, PROFILE_FIELDS, Changes, PersonChange, Removal,
                                   SyncPlan)

StoredPerson = Mapping[str, Any]
Employee = Mapping[str, Any]

IN_STORE = frozenset(("active", "upcoming"))
_MONTH_DAYS = frozenset(f"{month:02d}-{day:02d}" for month in range(1, 13)
                        for day in range(1, calendar.monthrange(2000, month)[1] + 1))
# A value we refuse to store (a birthday with a year, a malformed date) counts as unreadable: the
# stored value is kept, as for a hidden field. Checked only when a value differs from the store.
_VALID = {"birthday": _MONTH_DAYS.__contains__, "start_date": lambda v: parse_date(v) is not None}


@dataclass(slots=True)
class Run:
    """One reconciliation: its inputs and the plan being built."""

    today: date
    sync_birthdays: bool
    include_future_joiners: bool
    plan: SyncPlan
    unknown_new: int = 0  # people not added because nothing tells whether they work here

    @classmethod
    def start(cls, today: date, settings: Mapping[str, Any]) -> Run:
        return cls(today, bool(settings.get("sync_birthdays", True)),
                   bool(settings.get("include_future_joiners", False)), SyncPlan())

    def warn(self, code: str, message: str, field: str | None = None) -> None:
        warning: dict[str, Any] = {"code": code, "message": message}
        if field is not None:
            warning["field"] = field
        self.plan.warnings.append(warning)

    def warn_unknown(self) -> None:
        if self.unknown_new:
            self.warn("lifecycle_not_visible",
                      f"{self.unknown_new} people were not added because HiBob shows neither "
                      "their status nor their lifecycle status. Give the service user view access "
                      "to the Lifecycle category.", "lifecycle_status")


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _profile(run: Run, person: StoredPerson | None, employee: Employee) -> dict[str, Any]:
    """The profile the store should hold: HiBob's value where it shows one, else the stored one.

    A missing key means HiBob hides the field from the service user, not that it is empty, so it
    never clears anything; only an explicit null does.
    """
    profile = {}
    for name in PROFILE_FIELDS:
        before = person[name] if person is not None else None
        if name in employee:
            after = employee[name]
            if after is not None and after != before:
                check = _VALID.get(name)
                if check is not None and not check(after):
                    after = before
        else:
            after = before
        profile[name] = after
    if not run.sync_birthdays:
        profile["birthday"] = None  # the setting is off: no birthday is kept, not even old ones
    return profile


def plan_visible(run: Run, person: StoredPerson | None, employee: Employee) -> None:
    """Plan one person HiBob shows (full sync or one-person re-read)."""
    plan = run.plan
    profile = _profile(run, person, employee)
    view = employee
    if employee.get("start_date") != profile["start_date"]:
        # Start date hidden or unreadable for this person: judge by the one the store holds.
        view = {**employee, "start_date": profile["start_date"]}
    found = classify(view, run.today, run.include_future_joiners)
    status = found.status

    if person is None:
        if status in IN_STORE:
            plan.adds.append({"external_id": employee["external_id"], **profile, "status": status,
                              "removal_reason": None, "leave_date": _iso(found.leave_date),
                              "removal_rejected": False})
        else:
            plan.ignored += 1
            if status == "unknown":
                run.unknown_new += 1
        return

    changes: Changes = {name: {"before": person[name], "after": after}
                        for name, after in profile.items() if after != person[name]}
    before_status = person["status"]
    rejected = bool(person.get("removal_rejected"))
    if status in IN_STORE:
        if rejected:
            # HiBob shows them in the store again: a later drop is a new removal to propose.
            plan.clear_removal_rejected.append(person["id"])
        for name, after in zip(LIFECYCLE_FIELDS, (status, None, _iso(found.leave_date))):
            if person.get(name) != after:
                changes[name] = {"before": person.get(name), "after": after}
        if before_status == "removed":
            plan.restores.append(PersonChange.of(person, changes))
        elif changes:
            plan.updates.append(PersonChange.of(person, changes))
        else:
            plan.unchanged += 1
        return

    if changes:
        plan.updates.append(PersonChange.of(person, changes))
    # removed/excluded: out of the store, unless already out or an admin rejected the removal;
    # unknown: HiBob shows nothing that tells, so the store keeps what it knows.
    if status != "unknown" and before_status in IN_STORE and not rejected:
        # Excluded (a future joiner while include_future_joiners is off) is not visible to the
        # store under its own settings, hence not_visible.
        plan.removals.append(Removal.of(person, found.removal_reason or "not_visible"))
    elif not changes:
        plan.unchanged += 1


def plan_gone(run: Run, person: StoredPerson, reason: str) -> None:
    """Plan one stored person HiBob no longer shows (``not_visible``) or has deleted."""
    plan = run.plan
    changes: Changes = {}
    if not run.sync_birthdays and person["birthday"] is not None:
        changes["birthday"] = {"before": person["birthday"], "after": None}
        plan.updates.append(PersonChange.of(person, changes))
    if person["status"] in IN_STORE and not person.get("removal_rejected"):
        plan.removals.append(Removal.of(person, reason))
    elif not changes:
        plan.unchanged += 1


def plan_person(stored_person: StoredPerson | None, employee: Employee | None, *, today: date,
                settings: Mapping[str, Any]) -> SyncPlan:
    """Plan one person from a one-person re-read (webhook), by the same rules as a full sync.

    ``employee`` None means HiBob answered 404 (or sent ``employee.deleted``): the stored person
    is removed with reason ``deleted``. There is no field_hidden rule for a single read (a
    missing key keeps the stored value anyway) and ``field_presence_after`` stays None.

    Raises:
        ValueError: ``stored_person`` and ``employee`` have different external ids.
    """
    run = Run.start(today, settings)
    if employee is None:
        if stored_person is not None:
            plan_gone(run, stored_person, "deleted")
        return run.plan
    if stored_person is not None and stored_person["external_id"] != employee["external_id"]:
        raise ValueError("stored_person and employee are different people")
    plan_visible(run, stored_person, employee)
    run.warn_unknown()
    return run.plan
