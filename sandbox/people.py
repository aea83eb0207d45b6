"""A sandbox employee and the lifecycle rules that move them between statuses as days pass.

Dates are ISO strings throughout ("2026-03-14"): they compare correctly as strings, which keeps the
daily pass over 100,000 people cheap.

Lifecycle (reference §7 and HiBob help articles; the exact day boundaries are [U] guesses):

* hired: start date after today (access Inactive); employed from the start date on.
* garden leave: last day of work (L) before the termination date (T); garden leave from L through T,
  access Active on L itself and Inactive after it ("Active until their last day of work").
* terminated: from the day *after* T (HiBob: no access "after their termination date").
* leave / parental leave: a temporary leave set through the control API, Active or Inactive.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

HIRED = "hired"
EMPLOYED = "employed"
GARDEN_LEAVE = "garden leave"
TERMINATED = "terminated"
LEAVE = "leave"
PARENTAL_LEAVE = "parental leave"
LEAVE_TYPES = (LEAVE, PARENTAL_LEAVE)
LIFECYCLE_STATUSES = (HIRED, EMPLOYED, GARDEN_LEAVE, TERMINATED, LEAVE, PARENTAL_LEAVE)

ACTIVE = "Active"
INACTIVE = "Inactive"


@dataclass(slots=True)
class Person:
    """One employee profile. ``values`` maps field id -> machine value.

    ``values`` is replaced, never edited in place, whenever the person changes (and ``rev`` goes
    up), so a renderer holding the old dict sees one consistent version of the person.
    """

    id: str
    values: dict[str, Any]
    rev: int = 0
    leave_type: str | None = None
    leave_active: bool = True

    @property
    def lifecycle(self) -> str:
        return self.values["internal.lifecycleStatus"]

    @property
    def status(self) -> str:
        return self.values["internal.status"]

    @property
    def email(self) -> str | None:
        return self.values.get("root.email")

    @property
    def department(self) -> str | None:
        return self.values.get("work.department")

    def summary(self) -> dict[str, Any]:
        """The flat view the control API lists (not a HiBob shape)."""
        v = self.values
        return {
            "id": self.id,
            "email": v.get("root.email"),
            "first_name": v.get("root.firstName"),
            "surname": v.get("root.surname"),
            "display_name": v.get("root.displayName"),
            "department": v.get("work.department"),
            "site": v.get("work.site"),
            "birthday": v.get("personal.shortBirthDate"),
            "birth_date": v.get("personal.birthDate"),
            "start_date": v.get("work.startDate"),
            "original_start_date": v.get("work.originalStartDate"),
            "termination_date": v.get("internal.terminationDate"),
            "last_day_of_work": v.get("employee.lastDayOfWork"),
            "lifecycle_status": v.get("internal.lifecycleStatus"),
            "status": v.get("internal.status"),
            "rev": self.rev,
        }


def day_after(iso_day: str) -> str:
    return (date.fromisoformat(iso_day) + timedelta(days=1)).isoformat()


def lifecycle_on(values: dict[str, Any], leave_type: str | None, leave_active: bool,
                 today: str) -> tuple[str, str]:
    """(lifecycle status, access status) a person has on ``today`` (ISO date)."""
    termination = values.get("internal.terminationDate")
    if termination is not None:
        last_day = values.get("employee.lastDayOfWork") or termination
        if today > termination:
            return TERMINATED, INACTIVE
        if last_day < termination and today >= last_day:
            return GARDEN_LEAVE, ACTIVE if today == last_day else INACTIVE
    if values["work.startDate"] > today:
        return HIRED, INACTIVE
    if leave_type:
        return leave_type, ACTIVE if leave_active else INACTIVE
    return EMPLOYED, ACTIVE


def transition_events(old: tuple[str, str], new: tuple[str, str]) -> list[str]:
    """The lifecycle webhooks HiBob fires when a person moves from ``old`` to ``new``.

    Several days may pass at once (the clock can jump), so this compares states rather than
    replaying days. ``employee.left`` fires once for whichever comes first of garden leave and
    termination (reference §4.2).
    """
    (old_lc, old_status), (new_lc, new_status) = old, new
    if old == new:
        return []
    events: list[str] = []
    leaving = (GARDEN_LEAVE, TERMINATED)
    working = (EMPLOYED, GARDEN_LEAVE, LEAVE, PARENTAL_LEAVE)
    if new_lc in working and old_lc in (HIRED, TERMINATED):
        events.append("employee.joined")
    if new_lc in leaving and old_lc not in leaving:
        events.append("employee.left")
    if new_lc in LEAVE_TYPES and old_lc not in LEAVE_TYPES:
        events.append("employee.temporaryLeave")
    if old_status == ACTIVE and new_status == INACTIVE:
        events.append("employee.inactivated")
    if (old_status == INACTIVE and new_status == ACTIVE
            and old_lc not in (HIRED, TERMINATED)):
        events.append("employee.activated")
    return events


def apply_lifecycle(person: Person, today: str) -> list[str] | None:
    """Bring ``person`` up to date for ``today``: the webhook types to fire, None if unchanged."""
    values = person.values
    old = (values["internal.lifecycleStatus"], values["internal.status"])
    new = lifecycle_on(values, person.leave_type, person.leave_active, today)
    if new == old:
        return None
    updated = dict(values)
    updated["internal.lifecycleStatus"], updated["internal.status"] = new
    updated["root.state"] = "active" if new[1] == ACTIVE else "inactive"
    if new[1] != old[1]:
        updated["internal.currentActiveStatusStartDate"] = today
    person.values = updated
    person.rev += 1
    return transition_events(old, new)
