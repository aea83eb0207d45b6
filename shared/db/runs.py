"""Sync runs."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shared.db.tables import sync_runs

EMPTY_COUNTS = {"added": 0, "updated": 0, "removed": 0, "restored": 0, "held": 0, "unchanged": 0}


def create(conn: Connection, row: dict[str, Any]) -> dict[str, Any]:
    values = {"counts": dict(EMPTY_COUNTS), "status": "queued", **row}
    conn.execute(sync_runs.insert().values(**values))
    return get(conn, row["id"])  # type: ignore[return-value]


def get(conn: Connection, run_id: str, integration_id: str | None = None) -> dict[str, Any] | None:
    stmt = sa.select(sync_runs).where(sync_runs.c.id == run_id)
    if integration_id is not None:
        stmt = stmt.where(sync_runs.c.integration_id == integration_id)
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row else None


def update(conn: Connection, run_id: str, **values: Any) -> None:
    conn.execute(sync_runs.update().where(sync_runs.c.id == run_id).values(**values))


def find(conn: Connection, integration_id: str, statuses: list[str], *, full_only: bool = False) -> list[dict[str, Any]]:
    """Runs of an integration in the given statuses, oldest first."""
    stmt = (sa.select(sync_runs).where(sync_runs.c.integration_id == integration_id,
                                       sync_runs.c.status.in_(statuses))
            .order_by(sync_runs.c.created_at, sync_runs.c.id))
    rows = [dict(r) for r in conn.execute(stmt).mappings()]
    if full_only:
        rows = [r for r in rows if not r["scope"]]
    return rows


def latest(conn: Connection, integration_id: str, statuses: list[str]) -> dict[str, Any] | None:
    stmt = (sa.select(sync_runs).where(sync_runs.c.integration_id == integration_id,
                                       sync_runs.c.status.in_(statuses))
            .order_by(sync_runs.c.created_at.desc(), sync_runs.c.id.desc()).limit(1))
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row else None


def page(conn: Connection, integration_id: str, limit: int, before: tuple[Any, str] | None) -> list[dict[str, Any]]:
    """Newest first, keyset-paginated on (created_at, id)."""
    stmt = sa.select(sync_runs).where(sync_runs.c.integration_id == integration_id)
    if before is not None:
        stmt = stmt.where(sa.tuple_(sync_runs.c.created_at, sync_runs.c.id) < sa.tuple_(*before))
    stmt = stmt.order_by(sync_runs.c.created_at.desc(), sync_runs.c.id.desc()).limit(limit)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def stale(conn: Connection, statuses: list[str], older_than: Any) -> list[dict[str, Any]]:
    """Runs left in a status since before a given instant (for the sweeper)."""
    stmt = sa.select(sync_runs).where(sync_runs.c.status.in_(statuses), sync_runs.c.created_at < older_than)
    return [dict(r) for r in conn.execute(stmt).mappings()]
