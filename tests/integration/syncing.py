"""Helpers for tests that drive the sync end to end against the HiBob sandbox."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

from shared import service
from shared.db import changes as changes_db
from shared.db import integrations as integrations_db
from shared.db import people as people_db
from shared.db import runs as runs_db

IN_STORE = ("employed", "leave", "parental leave")


def expected_active(sandbox, today: date) -> set[str]:
    """Who HiBob says should be active in the store, read straight off the sandbox's data."""
    out = set()
    for person in sandbox.state.directory.snapshot():
        lifecycle = person.lifecycle
        last_day = person.values.get("employee.lastDayOfWork") or person.values.get("internal.terminationDate")
        if lifecycle in IN_STORE or (lifecycle == "garden leave" and last_day and last_day >= today.isoformat()):
            out.add(person.id)
    return out


def clock_file(tmp_path, monkeypatch) -> Callable[[timedelta], datetime]:
    """A clock file both peoplesync and the sandbox read (PEOPLESYNC_CLOCK_FILE), set to 09:00 UTC
    today; returns ``move(delta)``, which sets it to 09:00 + delta and returns that moment."""
    path = tmp_path / "now"
    monkeypatch.setenv("PEOPLESYNC_ENV", "test")
    monkeypatch.setenv("PEOPLESYNC_CLOCK_FILE", str(path))
    start = datetime.now(timezone.utc).replace(hour=9, minute=0, second=0, microsecond=0)

    def move(delta: timedelta) -> datetime:
        moment = start + delta
        path.write_text(moment.isoformat().replace("+00:00", "Z"))
        return moment

    move(timedelta(0))
    return move


def connect(ctx, sandbox, store_id: str = "store-1", credentials: tuple[str, str] | None = None,
            **settings: Any) -> str:
    user, token = credentials or sandbox.credentials
    row = service.create_integration(ctx, store_id, {"service_user_id": user, "token": token}, settings, [])
    return row["id"]


def integration(ctx, integration_id: str) -> dict[str, Any]:
    with ctx.db.begin() as conn:
        return integrations_db.get(conn, integration_id)


def store_people(ctx, store_id: str = "store-1") -> dict[str, dict[str, Any]]:
    with ctx.db.begin() as conn:
        return people_db.for_sync(conn, store_id)


def active_ids(ctx, store_id: str = "store-1") -> set[str]:
    return {k for k, p in store_people(ctx, store_id).items() if p["status"] == "active"}


def runs(ctx, integration_id: str) -> list[dict[str, Any]]:
    """Newest first."""
    with ctx.db.begin() as conn:
        return runs_db.page(conn, integration_id, 1000, None)


def feed(ctx, store_id: str = "store-1") -> list[dict[str, Any]]:
    with ctx.db.begin() as conn:
        return changes_db.page(conn, store_id, 0, 100000)
