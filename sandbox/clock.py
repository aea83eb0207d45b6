"""The sandbox's idea of "now", which decides lifecycle moves and webhook timestamps.

Precedence: an instant set through the control API (frozen until changed), else the file named by
``PEOPLESYNC_CLOCK_FILE`` while it exists (so one file moves the sandbox, web, worker and cron
together), else the system clock. The sandbox never runs in production, so unlike
``shared.clock`` it honours the file whatever ``PEOPLESYNC_ENV`` says.
"""
from __future__ import annotations

import os
import threading
from datetime import date, datetime, timedelta, timezone

from shared.clock import parse_instant


class SandboxClock:
    def __init__(self, override: datetime | None = None) -> None:
        self._override = override
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            if self._override is not None:
                return self._override
        path = os.environ.get("PEOPLESYNC_CLOCK_FILE")
        if path:
            try:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
                if text.strip():
                    return parse_instant(text)
            except (FileNotFoundError, ValueError):
                pass  # a missing or half-written file means "no override", as in shared.clock
        return datetime.now(timezone.utc)

    def today(self) -> date:
        # The sandbox company runs on UTC; HiBob moves people at midnight in the site's zone.
        return self.now().date()

    def source(self) -> str:
        if self._override is not None:
            return "control"
        path = os.environ.get("PEOPLESYNC_CLOCK_FILE")
        return "file" if path and os.path.exists(path) else "system"

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=timezone.utc)
        with self._lock:
            self._override = instant.astimezone(timezone.utc)

    def advance(self, delta: timedelta) -> None:
        self.set(self.now() + delta)

    def reset(self) -> None:
        with self._lock:
            self._override = None
