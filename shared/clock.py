"""What "now" is.

Production reads the system clock. In `local` and `test` environments a file named by
`PEOPLESYNC_CLOCK_FILE` holding an RFC 3339 instant overrides it for every process at once, so a
test can move a future joiner's start date into the past across web, worker and cron.
"""
from __future__ import annotations

import os
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

_OVERRIDABLE_ENVS = {"local", "test"}


def parse_instant(text: str) -> datetime:
    """Parse an RFC 3339 instant (a trailing ``Z`` allowed) into an aware UTC datetime."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def now() -> datetime:
    """The current instant, aware, in UTC."""
    path = os.environ.get("PEOPLESYNC_CLOCK_FILE")
    if path and os.environ.get("PEOPLESYNC_ENV", "production") in _OVERRIDABLE_ENVS:
        try:
            with open(path, encoding="utf-8") as handle:
                return parse_instant(handle.read())
        except FileNotFoundError:
            pass
    return datetime.now(timezone.utc)


def today_in(tz_name: str, instant: datetime | None = None) -> date:
    """The calendar date in an IANA time zone at ``instant`` (default: now)."""
    return (instant or now()).astimezone(ZoneInfo(tz_name)).date()


def rfc3339(value: datetime | None) -> str | None:
    """Format an instant as RFC 3339 UTC with a ``Z``; ``None`` stays ``None``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
