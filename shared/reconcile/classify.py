"""Who belongs in the store, from one decoded HiBob employee (``shared.hibob.model.Employee``).

DESIGN "Sync semantics": active = employed, on any leave (Active or Inactive), or in garden leave up
to and including the last day of work; upcoming = hired with a start date after today; removed =
terminated. HiBob hides fields by leaving keys out, so every rule has a fallback for a hidden or
unfamiliar lifecycle; docs/sync-rules.md lists them.

Called for every person a full sync cannot settle on its fast path, and for every webhook re-read;
the common answers are shared constants, and dates are parsed only when they can matter.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

ClassStatus = Literal["active", "upcoming", "removed", "excluded", "unknown"]
RemovalReason = Literal["terminated", "not_visible", "deleted"]

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Classification:
    """Where one HiBob employee belongs.

    ``status``: ``active`` / ``upcoming`` (in the store), ``removed`` (HiBob says they left),
    ``excluded`` (must not be in the store, e.g. a future joiner while include_future_joiners is
    off), ``unknown`` (HiBob shows nothing that tells: keep whatever the store has, add no one).
    ``leave_date``: the first day they are no longer active, when known in advance (the
    effective-date pass removes them that day without asking HiBob).
    """

    status: ClassStatus
    removal_reason: RemovalReason | None = None
    leave_date: date | None = None


# Shared answers for the common cases: no allocation per person.
_ACTIVE = Classification("active")
_UPCOMING = Classification("upcoming")
_EXCLUDED = Classification("excluded")
_TERMINATED = Classification("removed", "terminated")
_UNKNOWN = Classification("unknown")

# Lifecycle kinds. Raw values are looked up first exactly (the common, fast case), then
# normalised, so "Employed" or " garden leave " from another tenant still match.
_HIRED, _WORKING, _GARDEN, _LEFT = "hired", "working", "garden", "left"
_LIFECYCLE = {
    "hired": _HIRED,
    "employed": _WORKING,
    "garden leave": _GARDEN,
    "terminated": _LEFT,
    # Any other "... leave" (leave, parental leave, custom leave types) is working: see _kind().
}


def _kind(raw: Any) -> str | None:
    if not isinstance(raw, str):
        return None
    kind = _LIFECYCLE.get(raw)
    if kind is not None:
        return kind
    value = " ".join(raw.lower().replace("_", " ").split())
    kind = _LIFECYCLE.get(value)
    if kind is None and value.endswith("leave"):
        kind = _WORKING  # a temporary leave of any type keeps people in the store (DESIGN)
    return kind


def _status(raw: Any) -> str | None:
    """``internal.status`` as ``"active"``, ``"inactive"``, or None (hidden, null, unfamiliar)."""
    if raw == "Active":
        return "active"
    if raw == "Inactive":
        return "inactive"
    if isinstance(raw, str):
        value = raw.strip().lower()
        if value in ("active", "inactive"):
            return value
    return None


def parse_date(value: Any) -> date | None:
    """A ``YYYY-MM-DD`` string as a date; anything else (missing, null, malformed) is None."""
    if type(value) is str and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _end_date(employee: Mapping[str, Any], start: date | None) -> tuple[date | None, bool]:
    """The last day of work if known, else the termination date; and whether the former was used.

    An end date before the current start date belongs to an earlier employment (a rehire keeps
    the same profile), so it is ignored rather than taken as a departure.
    """
    last_day = parse_date(employee.get("last_day_of_work"))
    if last_day is not None and (start is None or last_day >= start):
        return last_day, True
    ended = parse_date(employee.get("termination_date"))
    if ended is not None and (start is None or ended >= start):
        return ended, False
    return None, False


def _has_end(employee: Mapping[str, Any]) -> bool:
    return bool(employee.get("last_day_of_work") or employee.get("termination_date"))


def _working(employee: Mapping[str, Any], start: date | None, today: date) -> Classification:
    """In the store through their last day (last day of work, else termination date) inclusive."""
    end, _ = _end_date(employee, start)
    if end is None:
        return _ACTIVE
    leave = end + _ONE_DAY
    if leave <= today:
        return _TERMINATED
    return Classification("active", None, leave)


def _upcoming(employee: Mapping[str, Any], start: date | None,
              include_future_joiners: bool) -> Classification:
    if not include_future_joiners:
        return _EXCLUDED
    end, _ = _end_date(employee, start) if _has_end(employee) else (None, False)
    # A fixed-term joiner: the end is after the start, so the leave date is still ahead.
    return _UPCOMING if end is None else Classification("upcoming", None, end + _ONE_DAY)


def classify(employee: Mapping[str, Any], today: date,
             include_future_joiners: bool) -> Classification:
    """Classify one decoded HiBob employee as of ``today`` (in the integration's time zone).

    Args:
        employee: a decoded employee (missing key = hidden by permissions, None = explicit null).
        today: the calendar date that start and leaving dates are compared with.
        include_future_joiners: the integration setting; off turns ``upcoming`` into ``excluded``.
    """
    kind = _kind(employee.get("lifecycle_status"))
    if kind == _WORKING and not _has_end(employee):
        return _ACTIVE  # the hot path: employed (or on leave) with no departure planned
    if kind == _LEFT:
        return _TERMINATED  # HiBob already says terminated: removed now, whatever the dates
    start = parse_date(employee.get("start_date"))
    if kind == _WORKING:
        return _working(employee, start, today)
    if kind == _HIRED:
        # HiBob flips Hired to Employed at midnight in the site's time zone; our "today" (the
        # integration's zone) may get there first, and then the start date decides.
        if start is None or start > today:
            return _upcoming(employee, start, include_future_joiners)
        return _working(employee, start, today)
    status = _status(employee.get("status"))
    if kind == _GARDEN:
        _, is_last_day = _end_date(employee, start)
        if is_last_day or status == "active":
            return _working(employee, start, today)
        # Last day of work not visible: HiBob keeps garden leavers Active until their last day of
        # work and sets "garden leave" once it has passed, so without Active they have left.
        return _TERMINATED
    # Lifecycle status hidden, null or unfamiliar: fall back on internal.status and the dates.
    if status == "active":
        return _working(employee, start, today)
    if start is not None and start > today:
        return _upcoming(employee, start, include_future_joiners)  # Inactive before the start
    if status == "inactive":
        if _has_end(employee):
            return _working(employee, start, today)
        if "termination_date" in employee:
            # Visible and empty: never terminated, so an Inactive leave, which stays in the store.
            return _ACTIVE
        # Termination date hidden too: most Inactive profiles are leavers, so treat as one.
        return _TERMINATED
    if _has_end(employee):
        end, _ = _end_date(employee, start)
        if end is not None:
            return _working(employee, start, today)
    return _UNKNOWN
