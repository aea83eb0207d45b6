"""The full sync: every person HiBob shows against the whole store directory.

Around the per-person rule (``person.py``) it adds what only a full read can know: who HiBob no
longer shows (``not_visible``), how often each field is present (the field_hidden rule), and a
fast path.

Speed: a full sync diffs ~100k people and almost none changed. The fast path reads one
employee's values with an ``itemgetter`` (C code, one tuple), compares tuples with the stored
person, and recognises only "nothing to do": every decision is made in ``plan_visible``. Which
keys an employee carries (its *shape*) is the same for nearly everyone in one read, so the
getters are built per shape, and presence is counted per shape rather than per key and person.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from operator import itemgetter
from typing import Any

from shared.reconcile.person import Employee, Run, StoredPerson, plan_gone, plan_visible
from shared.reconcile.plan import PROFILE_FIELDS, TRACKED_FIELDS, SyncPlan

# The field_hidden rule (DESIGN): present for at least half the people last time, missing for
# nine in ten now.
HIDDEN_WAS_AT_LEAST = 0.5
HIDDEN_NOW_AT_MOST = 0.1

_LIFECYCLE_INPUTS = ("status", "lifecycle_status", "termination_date", "last_day_of_work")
# An employee is settled (classify -> plain "active") when the lifecycle values it carries are
# these: employed (or, lifecycle hidden, Active) with no end date.
_SETTLED_EMPLOYEE = {"status": "Active", "lifecycle_status": "employed",
                     "termination_date": None, "last_day_of_work": None}
_NEVER = object()  # compares unequal to every tuple: no fast path for this shape


def _getter(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], Any]:
    return itemgetter(*names) if names else (lambda _: ())


class _Shape:
    """The tracked keys some employees carry, with the getters of the fast path."""

    __slots__ = ("present", "fast", "count")

    def __init__(self, present: frozenset[str], sync_birthdays: bool) -> None:
        self.present = present
        missing = tuple(name for name in TRACKED_FIELDS if name not in present)
        # Hidden fields keep the stored value and so cannot differ; birthday, when not synced,
        # is checked on the stored side (must already be None).
        compared = tuple(name for name in PROFILE_FIELDS if name in present
                         and (sync_birthdays or name != "birthday"))
        read_lifecycle = _getter(tuple(name for name in _LIFECYCLE_INPUTS if name in present))
        settled: Any = _NEVER
        if "lifecycle_status" in present or "status" in present:
            settled = read_lifecycle(_SETTLED_EMPLOYEE)
        # (read_profile, read_lifecycle, read_stored, settled, missing): one tuple to unpack.
        self.fast = (_getter(compared), read_lifecycle, _getter(compared), settled, missing)
        self.count = 0


def _presence(run: Run, counts: Mapping[str, int], seen: int,
              before: Mapping[str, float]) -> dict[str, float]:
    """Field presence of this sync, with the field_hidden and birthday warnings.

    A hidden field keeps last time's figure, so its warning stays on every sync until HiBob
    returns the field (keeping the old values is the per-person rule anyway; this says why).
    """
    if not seen:
        run.warn("no_people_visible", "HiBob showed no people to the service user.")
        return dict(before)
    after: dict[str, float] = {}
    for name in TRACKED_FIELDS:
        present = counts[name]
        was = before.get(name)
        if was is not None and was >= HIDDEN_WAS_AT_LEAST and present <= HIDDEN_NOW_AT_MOST * seen:
            after[name] = was
            if name != "birthday" or run.sync_birthdays:
                kept = ("their stored values are kept" if name in PROFILE_FIELDS else
                        "people are judged by the other lifecycle fields, and whoever cannot be "
                        "judged keeps their current status")
                run.warn("field_hidden",
                         f"HiBob stopped returning '{name}' for {100 - 100 * present // seen}% of "
                         f"people (it was returned for {round(100 * was)}%); {kept}. "
                         "Check the service user's permission group.", name)
        else:
            after[name] = present / seen
    if run.sync_birthdays and counts["birthday"] == 0:
        run.warn("birthdays_not_visible",
                 "HiBob returns no birthdays: give the service user's permission group view "
                 "access to the Personal category, or turn birthday sync off.", "birthday")
    return after


def plan_sync(stored: Mapping[str, StoredPerson], employees: Iterable[Employee], *, today: date,
              settings: Mapping[str, Any],
              field_presence_before: Mapping[str, float]) -> SyncPlan:
    """Plan a full sync: every person HiBob shows (``showInactive: true``) against the store.

    Args:
        stored: external_id -> stored person (the keys of ``shared.db.people.SYNC_COLUMNS``).
        employees: decoded employees, ``department_id`` already resolved to a ``department``
            label (a missing key stays missing).
        today: the date in the integration's time zone.
        settings: ``sync_birthdays`` (default True), ``include_future_joiners`` (default False).
        field_presence_before: the previous full sync's ``field_presence_after`` ({} at first).
    """
    run = Run.start(today, settings)
    plan = run.plan
    sync_birthdays = run.sync_birthdays
    stored_state = itemgetter("status", "removal_reason", "leave_date", "removal_rejected",
                              *(() if sync_birthdays else ("birthday",)))
    settled_state = ("active", None, None, False) + (() if sync_birthdays else (None,))
    shapes: dict[frozenset[str], _Shape] = {}
    by_size: dict[int, _Shape] = {}  # the last shape seen with that many keys

    def shape_of(employee: Employee) -> _Shape:
        present = frozenset(name for name in TRACKED_FIELDS if name in employee)
        shape = shapes.get(present)
        if shape is None:
            shape = shapes[present] = _Shape(present, sync_birthdays)
        by_size[len(employee)] = shape
        return shape

    unchanged = duplicates = 0
    seen: set[str] = set()
    find = stored.get
    for employee in employees:
        external_id = employee["external_id"]
        if external_id in seen:
            duplicates += 1
            continue
        seen.add(external_id)
        # The key count picks the shape without trying getters that would raise: people whose
        # permissions differ come interleaved in HiBob's answer.
        shape = by_size.get(len(employee))
        try:
            if shape is None:
                raise KeyError
            read_profile, read_lifecycle, read_stored, settled, missing = shape.fast
            profile = read_profile(employee)
            lifecycle = read_lifecycle(employee)
            if missing:
                for name in missing:
                    if name in employee:
                        raise KeyError(name)
        except KeyError:
            shape = shape_of(employee)
            read_profile, read_lifecycle, read_stored, settled, missing = shape.fast
            profile = read_profile(employee)
            lifecycle = read_lifecycle(employee)
        shape.count += 1
        person = find(external_id)
        if (person is not None and lifecycle == settled and profile == read_stored(person)
                and stored_state(person) == settled_state):
            unchanged += 1  # employed, no end date, same profile: nothing to do
            continue
        plan_visible(run, person, employee)
    plan.unchanged += unchanged

    for external_id, person in stored.items():
        if external_id not in seen:
            plan_gone(run, person, "not_visible")

    counts = dict.fromkeys(TRACKED_FIELDS, 0)
    for known in shapes.values():
        for name in known.present:
            counts[name] += known.count
    plan.field_presence_after = _presence(run, counts, len(seen), field_presence_before or {})
    run.warn_unknown()
    if duplicates:
        run.warn("duplicate_employee",
                 f"HiBob returned {duplicates} repeated employee ids; the first of each was used.")
    return plan
