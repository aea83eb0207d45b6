"""Integrations and stores."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from shared.db.errors import Conflict
from shared.db.tables import integrations, stores

LIVE = integrations.c.state != "disconnected"


def ensure_store(conn: Connection, store_id: str, now: datetime) -> None:
    exists = conn.execute(sa.select(stores.c.store_id).where(stores.c.store_id == store_id)).first()
    if not exists:
        try:
            with conn.begin_nested():
                conn.execute(stores.insert().values(store_id=store_id, last_seq=0, delivered_seq=0, created_at=now))
        except IntegrityError:
            pass  # created concurrently: fine, it exists


def create(conn: Connection, row: dict[str, Any]) -> dict[str, Any]:
    """Insert a new integration.

    Raises:
        Conflict: the store already has a live integration (``existing_id`` names it).
    """
    ensure_store(conn, row["store_id"], row["created_at"])
    existing = get_live_for_store(conn, row["store_id"])
    if existing:
        raise Conflict("the store already has a live HiBob integration", existing["id"])
    try:
        with conn.begin_nested():
            conn.execute(integrations.insert().values(**row))
    except IntegrityError:
        existing = get_live_for_store(conn, row["store_id"])
        raise Conflict("the store already has a live HiBob integration",
                       existing["id"] if existing else None) from None
    return get(conn, row["id"])  # type: ignore[return-value]


def get(conn: Connection, integration_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
    stmt = sa.select(integrations).where(integrations.c.id == integration_id)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row else None


def get_live_for_store(conn: Connection, store_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(integrations).where(integrations.c.store_id == store_id, LIVE)).mappings().first()
    return dict(row) if row else None


def update(conn: Connection, integration_id: str, **values: Any) -> None:
    conn.execute(integrations.update().where(integrations.c.id == integration_id).values(**values))


def ids_in_states(conn: Connection, states: list[str]) -> list[str]:
    return list(conn.execute(sa.select(integrations.c.id).where(integrations.c.state.in_(states))).scalars())


def due_for_sync(conn: Connection, now: datetime, states: list[str]) -> list[str]:
    """Integrations whose next full reconciliation is due."""
    stmt = sa.select(integrations.c.id).where(
        integrations.c.state.in_(states), integrations.c.next_run_at.is_not(None),
        integrations.c.next_run_at <= now).order_by(integrations.c.next_run_at)
    return list(conn.execute(stmt).scalars())


def all_live(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sa.select(integrations).where(LIVE)).mappings()]


def count_by_state(conn: Connection) -> dict[str, int]:
    stmt = sa.select(integrations.c.state, sa.func.count()).group_by(integrations.c.state)
    return {state: n for state, n in conn.execute(stmt)}
