"""The people directory."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shared.db.bulk import insert_rows, update_rows
from shared.db.tables import people

# What the sync needs of a stored person (the reconcile layer's "stored person").
SYNC_COLUMNS = ("id", "external_id", "email", "first_name", "last_name", "display_name", "birthday",
                "start_date", "department", "site", "status", "removal_reason", "leave_date",
                "removal_rejected")
_SYNC_SELECT = sa.select(*[people.c[name] for name in SYNC_COLUMNS])


def for_sync(conn: Connection, store_id: str, external_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The store's people keyed by external id, in one query (optionally only some ids)."""
    stmt = _SYNC_SELECT.where(people.c.store_id == store_id)
    if external_ids is not None:
        stmt = stmt.where(people.c.external_id.in_(external_ids))
    result = conn.execute(stmt)
    names = SYNC_COLUMNS
    return {row[1]: dict(zip(names, row)) for row in result}


def insert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    insert_rows(conn, people, rows)


def update(conn: Connection, rows: list[dict[str, Any]]) -> None:
    update_rows(conn, people, "id", rows)


def get(conn: Connection, store_id: str, person_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(people).where(people.c.store_id == store_id, people.c.id == person_id)).mappings().first()
    return dict(row) if row else None


def by_ids(conn: Connection, ids: list[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    return [dict(r) for r in conn.execute(sa.select(people).where(people.c.id.in_(ids))).mappings()]


def counts(conn: Connection, store_id: str) -> dict[str, int]:
    stmt = sa.select(people.c.status, sa.func.count()).where(people.c.store_id == store_id).group_by(people.c.status)
    found = {status: n for status, n in conn.execute(stmt)}
    return {s: found.get(s, 0) for s in ("active", "upcoming", "removed")}


def counts_for_integration(conn: Connection, integration_id: str) -> dict[str, int]:
    """People per status fed by one integration (the Integration representation's `people`)."""
    stmt = (sa.select(people.c.status, sa.func.count()).where(people.c.integration_id == integration_id)
            .group_by(people.c.status))
    found = {status: n for status, n in conn.execute(stmt)}
    return {s: found.get(s, 0) for s in ("active", "upcoming", "removed")}


def page(conn: Connection, store_id: str, statuses: list[str], q: str | None, limit: int,
         after: tuple[str, str] | None) -> list[dict[str, Any]]:
    """A page of the store's people in (sort_key, id) order, keyset-paginated."""
    stmt = sa.select(people).where(people.c.store_id == store_id, people.c.status.in_(statuses))
    if q:
        pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(sa.or_(people.c.sort_key.like(pattern, escape="\\"),
                                 sa.func.lower(people.c.display_name).like(pattern, escape="\\"),
                                 sa.func.lower(people.c.email).like(pattern, escape="\\")))
    if after is not None:
        stmt = stmt.where(sa.tuple_(people.c.sort_key, people.c.id) > sa.tuple_(*after))
    stmt = stmt.order_by(people.c.sort_key, people.c.id).limit(limit)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def due_effective(conn: Connection, store_id: str, today_iso: str) -> dict[str, dict[str, Any]]:
    """People whose start or leaving date has arrived (the effective-date pass), by external id."""
    stmt = _SYNC_SELECT.where(people.c.store_id == store_id, sa.or_(
        sa.and_(people.c.status == "upcoming", people.c.start_date <= today_iso),
        sa.and_(people.c.status == "active", people.c.leave_date.is_not(None), people.c.leave_date <= today_iso)))
    return {row[1]: dict(zip(SYNC_COLUMNS, row)) for row in conn.execute(stmt)}


def mark_all_removed(conn: Connection, integration_id: str, reason: str, now: Any) -> list[dict[str, Any]]:
    """Mark every live person of an integration removed; returns the rows as they were."""
    rows = [dict(r) for r in conn.execute(sa.select(people).where(
        people.c.integration_id == integration_id, people.c.status != "removed")).mappings()]
    conn.execute(people.update().where(people.c.integration_id == integration_id, people.c.status != "removed")
                 .values(status="removed", removal_reason=reason, removed_at=now, updated_at=now))
    return rows


def purge(conn: Connection, integration_id: str) -> int:
    return conn.execute(people.delete().where(people.c.integration_id == integration_id)).rowcount


def adopt(conn: Connection, store_id: str, integration_id: str) -> None:
    """Hand a store's people (left by an earlier, disconnected integration) to a new integration."""
    conn.execute(people.update().where(people.c.store_id == store_id, people.c.integration_id != integration_id)
                 .values(integration_id=integration_id))
