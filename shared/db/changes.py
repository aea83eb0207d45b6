"""The change log, which is also each store's change feed (ordered per store, no gaps)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shared.db.bulk import insert_rows
from shared.db.tables import store_changes, stores


def append(conn: Connection, store_id: str, entries: list[dict[str, Any]]) -> int:
    """Append entries to the store's feed in this transaction; returns the last seq (0 if none).

    The per-store counter row is updated first, which locks it: concurrent writers for the same
    store queue here, so sequence numbers never collide or leave gaps.
    """
    if not entries:
        return 0
    last = conn.execute(stores.update().where(stores.c.store_id == store_id)
                        .values(last_seq=stores.c.last_seq + len(entries))
                        .returning(stores.c.last_seq)).scalar_one()
    first = last - len(entries) + 1
    rows = [{"store_id": store_id, "seq": first + i, "integration_id": None, "person_id": None,
             "external_id": None, "run_id": None, "cause": None, "actor": None, **entry}
            for i, entry in enumerate(entries)]
    insert_rows(conn, store_changes, rows)
    return last


def page(conn: Connection, store_id: str, after_seq: int, limit: int, run_id: str | None = None) -> list[dict[str, Any]]:
    stmt = sa.select(store_changes).where(store_changes.c.store_id == store_id, store_changes.c.seq > after_seq)
    if run_id is not None:
        stmt = stmt.where(store_changes.c.run_id == run_id)
    stmt = stmt.order_by(store_changes.c.seq).limit(limit)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def removals_since(conn: Connection, integration_id: str, since: datetime) -> int:
    """How many people of an integration were removed since an instant (the removal guard's window)."""
    stmt = sa.select(sa.func.count()).select_from(store_changes).where(
        store_changes.c.integration_id == integration_id, store_changes.c.kind == "person.removed",
        store_changes.c.at >= since)
    return conn.execute(stmt).scalar_one()


def delivery_cursor(conn: Connection, store_id: str) -> tuple[int, int]:
    """(delivered_seq, last_seq) of a store's outbound notifications."""
    row = conn.execute(sa.select(stores.c.delivered_seq, stores.c.last_seq).where(stores.c.store_id == store_id)).first()
    return (row[0], row[1]) if row else (0, 0)


def mark_delivered(conn: Connection, store_id: str, seq: int) -> None:
    conn.execute(stores.update().where(stores.c.store_id == store_id, stores.c.delivered_seq < seq)
                 .values(delivered_seq=seq))


def stores_behind(conn: Connection) -> list[str]:
    return list(conn.execute(sa.select(stores.c.store_id).where(stores.c.delivered_seq < stores.c.last_seq)).scalars())
