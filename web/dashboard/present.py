"""How the dashboard words things: states, triggers, progress, dates, birthdays, durations.

Plain functions over the API's own representations (shared/representations), so a page says
exactly what the store-backend API says, in words an admin reads.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared import clock

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")

STATES = {
    "connecting": ("Connecting", "peoplesync is checking the HiBob service user and reading your people for the first time."),
    "active": ("Active", "People sync from HiBob automatically."),
    "needs_attention": ("Needs attention", "Syncing has stopped until the problem below is fixed."),
    "held": ("Removals held", "Adds and updates still sync; removals wait for your decision."),
    "disconnected": ("Disconnected", "HiBob is no longer synced."),
}
TRIGGERS = {
    "initial": "First sync",
    "scheduled": "Daily sync",
    "manual": "Sync now",
    "webhook": "Real-time update from HiBob",
    "effective_date": "Start or leaving date reached",
    "approval": "Removals approved",
}
RUN_STATUSES = {"queued": "Waiting", "running": "Running", "succeeded": "Succeeded", "failed": "Failed"}
PERSON_STATUSES = {"active": "Active", "upcoming": "Upcoming", "removed": "Removed"}
REMOVAL_REASONS = {
    "terminated": "left the company",
    "not_visible": "no longer visible to the service user",
    "deleted": "deleted in HiBob",
}
CHANGE_KINDS = {
    "person.added": "Added",
    "person.updated": "Updated",
    "person.removed": "Removed",
    "person.restored": "Restored",
    "integration.state_changed": "Integration state changed",
    "removals.held": "Removals held",
}
FIELDS = {
    "email": "Email", "first_name": "First name", "last_name": "Last name", "display_name": "Display name",
    "birthday": "Birthday", "start_date": "Start date", "department": "Department", "site": "Site",
    "status": "Status", "removal_reason": "Removal reason", "state": "State", "state_reason": "Reason",
    "held": "Held removals", "leave_date": "Leaving date",
}
STEPS = ("Connecting to HiBob", "Pulling people", "Applying changes", "Done")


def instant(value: str | datetime | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return clock.parse_instant(value)


def when(value: str | datetime | None, tz_name: str = "UTC", empty: str = "never") -> str:
    """``2026-12-04 16:53 Europe/Paris (3 minutes ago)``."""
    moment = instant(value)
    if moment is None:
        return empty
    try:
        local = moment.astimezone(ZoneInfo(tz_name))
    except (ZoneInfoNotFoundError, ValueError):  # a zone this machine lacks: show UTC, not an error page
        local, tz_name = moment, "UTC"
    return f"{local:%Y-%m-%d %H:%M} {tz_name} ({relative(moment)})"


def relative(moment: datetime, now: datetime | None = None) -> str:
    delta = (now or clock.now()) - moment
    future = delta < timedelta(0)
    seconds = abs(int(delta.total_seconds()))
    if seconds < 45:
        return "in a few seconds" if future else "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = round(seconds / size)
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"


def duration(start: str | datetime | None, end: str | datetime | None) -> str:
    a, b = instant(start), instant(end)
    if a is None or b is None:
        return "—"
    seconds = max(0.0, (b - a).total_seconds())
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 1 else "under 1 s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s"


def birthday(value: str | None) -> str:
    """``MM-DD`` → ``14 March`` (no year is ever stored)."""
    if not value or len(value) != 5:
        return ""
    try:
        month, day = int(value[:2]), int(value[3:])
        return f"{day} {MONTHS[month - 1]}"
    except (ValueError, IndexError):
        return value


def day(value: str | date | None) -> str:
    if not value:
        return ""
    try:
        d = value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}"


def person_name(person: dict[str, Any] | None, fallback: str = "Unknown person") -> str:
    if not person:
        return fallback
    name = " ".join(p for p in (person.get("first_name"), person.get("last_name")) if p)
    return name or person.get("display_name") or person.get("email") or fallback


def value(field: str, raw: Any) -> str:
    """A before/after value of a change, as an admin reads it."""
    if raw is None or raw == "":
        return "(empty)"
    if field == "birthday":
        return birthday(raw)
    if field in ("start_date", "leave_date"):
        return day(raw)
    if field == "status":
        return PERSON_STATUSES.get(raw, STATES.get(raw, (raw,))[0])
    if field == "state":
        return STATES.get(raw, (raw,))[0]
    if field == "removal_reason":
        return REMOVAL_REASONS.get(raw, raw)
    if isinstance(raw, dict):
        return str(raw.get("message") or raw.get("code") or raw)
    return str(raw)


def progress(integration: dict[str, Any]) -> dict[str, Any] | None:
    """Where the current run is: ``{"step": 1..4, "label", "busy"}``, or None when idle.

    The last finished run counts as "done" for two minutes, so a page that watched it running
    ends on "Done" rather than going blank.
    """
    run = integration.get("current_run")
    if run:
        if run["status"] == "queued":
            label = "Connecting to HiBob…" if integration["state"] == "connecting" else "Sync queued…"
            return {"step": 1, "label": label, "busy": True}
        if run.get("phase") == "applying":
            n = run.get("fetched") or 0
            return {"step": 3, "label": f"Pulled {n} {'person' if n == 1 else 'people'} from HiBob; "
                                        "applying changes…", "busy": True}
        return {"step": 2, "label": "Pulling people from HiBob…", "busy": True}
    last = integration.get("last_run")
    finished = instant(last.get("finished_at")) if last else None
    if last and finished and clock.now() - finished < timedelta(minutes=2):
        if last["status"] == "succeeded":
            c = last["counts"]
            n = last.get("fetched")
            pulled = f"pulled {n} {'person' if n == 1 else 'people'}; " if n is not None else ""
            return {"step": 4, "busy": False, "done": True,
                    "label": f"Done: {pulled}{c['added']} added, {c['updated']} updated, "
                             f"{c['removed']} removed, {c['restored']} restored"
                             + (f", {c['held']} held" if c["held"] else "") + "."}
        if integration.get("state_reason"):
            return None  # the reason above says what failed and how to fix it
        return {"step": 4, "busy": False, "failed": True,
                "label": "The sync failed: " + (last["error"] or {}).get("message", "no reason given")}
    return None
