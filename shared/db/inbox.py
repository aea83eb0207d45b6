"""The inbox of received HiBob webhook events: committed before HiBob gets its 200."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from shared.db.tables import webhook_inbox


def record(conn: Connection, integration_id: str, event_type: str, employee_id: str, triggered_at: str,
           now: datetime) -> bool:
    """Insert an event; False when the same (integration, type, employee, triggeredAt) is already in."""
    try:
        with conn.begin_nested():
            conn.execute(webhook_inbox.insert().values(
                integration_id=integration_id, event_type=event_type, employee_id=employee_id,
                triggered_at=triggered_at, received_at=now, status="pending"))
    except IntegrityError:
        return False
    return True


def pending(conn: Connection, integration_id: str, limit: int = 5000) -> list[dict[str, Any]]:
    stmt = (sa.select(webhook_inbox.c.id, webhook_inbox.c.employee_id, webhook_inbox.c.event_type,
                      webhook_inbox.c.received_at)
            .where(webhook_inbox.c.integration_id == integration_id, webhook_inbox.c.status == "pending")
            .order_by(webhook_inbox.c.id).limit(limit))
    return [dict(r) for r in conn.execute(stmt).mappings()]


def mark(conn: Connection, ids: list[int], status: str, now: datetime, run_id: str | None = None) -> None:
    if ids:
        conn.execute(webhook_inbox.update().where(webhook_inbox.c.id.in_(ids))
                     .values(status=status, applied_at=now, run_id=run_id))


def integrations_with_pending(conn: Connection, older_than: datetime) -> list[str]:
    stmt = (sa.select(webhook_inbox.c.integration_id).where(webhook_inbox.c.status == "pending",
                                                            webhook_inbox.c.received_at < older_than)
            .distinct())
    return list(conn.execute(stmt).scalars())


def oldest_pending_at(conn: Connection) -> datetime | None:
    return conn.execute(sa.select(sa.func.min(webhook_inbox.c.received_at))
                        .where(webhook_inbox.c.status == "pending")).scalar()
