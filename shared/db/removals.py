"""Removals the removal guard holds (docs/removal-guard.md): one open batch per integration.

The batch row carries the id a decision must name; it changes whenever the set of held people
changes, so an approval or rejection always applies to exactly the list the admin read.
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shared.db.tables import people, removal_batch_people, removal_batches, store_changes

_HELD_COLUMNS = ("person_id", "external_id", "reason", "held_at", "run_id")


def batch(conn: Connection, integration_id: str) -> dict[str, Any] | None:
    """The open batch (``batch_id``, ``held_since``, ``threshold``...), or None when nothing is held."""
    row = conn.execute(sa.select(removal_batches).where(removal_batches.c.integration_id == integration_id)
                       ).mappings().first()
    return dict(row) if row else None


def held(conn: Connection, integration_id: str) -> dict[str, dict[str, Any]]:
    """The held entries by person id: ``person_id``, ``external_id``, ``reason``, ``held_at``, ``run_id``."""
    stmt = (sa.select(*[removal_batch_people.c[name] for name in _HELD_COLUMNS])
            .where(removal_batch_people.c.integration_id == integration_id))
    return {row["person_id"]: dict(row) for row in conn.execute(stmt).mappings()}


def count(conn: Connection, integration_id: str) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(removal_batch_people)
                        .where(removal_batch_people.c.integration_id == integration_id)).scalar_one()


def held_people(conn: Connection, integration_id: str) -> list[dict[str, Any]]:
    """The people in the open batch (full people rows plus ``held_reason``, ``held_at``), in the
    people list's order."""
    stmt = (sa.select(people, removal_batch_people.c.reason.label("held_reason"),
                      removal_batch_people.c.held_at)
            .join(removal_batch_people, removal_batch_people.c.person_id == people.c.id)
            .where(removal_batch_people.c.integration_id == integration_id)
            .order_by(people.c.sort_key, people.c.id))
    return [dict(row) for row in conn.execute(stmt).mappings()]


def replace(conn: Connection, integration_id: str, store_id: str, entries: Mapping[str, dict[str, Any]], *,
            now: datetime, threshold: int | None) -> str | None:
    """Make the held list exactly ``entries`` (person id -> entry with the ``held`` keys).

    Returns the batch id (a new one when the set of people changed, the same one when only a
    reason changed), or None when nothing is held any more (the batch is closed). ``threshold``
    is recorded only when a new batch opens.
    """
    current = held(conn, integration_id)
    open_batch = batch(conn, integration_id)
    if not entries:
        clear(conn, integration_id)
        return None
    gone = [person_id for person_id in current if person_id not in entries]
    new = [{"integration_id": integration_id, **{k: entry[k] for k in _HELD_COLUMNS}}
           for person_id, entry in entries.items() if person_id not in current]
    if open_batch is None:
        batch_id = str(uuid.uuid4())
        conn.execute(removal_batches.insert().values(
            integration_id=integration_id, store_id=store_id, batch_id=batch_id, held_since=now,
            threshold=threshold if threshold is not None else 0, updated_at=now))
    elif gone or new:
        batch_id = str(uuid.uuid4())
        conn.execute(removal_batches.update().where(removal_batches.c.integration_id == integration_id)
                     .values(batch_id=batch_id, updated_at=now))
    else:
        batch_id = open_batch["batch_id"]
    if gone:
        conn.execute(removal_batch_people.delete().where(
            removal_batch_people.c.integration_id == integration_id,
            removal_batch_people.c.person_id.in_(gone)))
    if new:
        conn.execute(removal_batch_people.insert(), new)
    for person_id, entry in entries.items():
        before = current.get(person_id)
        if before is not None and before["reason"] != entry["reason"]:
            conn.execute(removal_batch_people.update().where(
                removal_batch_people.c.integration_id == integration_id,
                removal_batch_people.c.person_id == person_id).values(reason=entry["reason"]))
    return batch_id


def clear(conn: Connection, integration_id: str) -> None:
    """Close the batch: nothing is held any more."""
    conn.execute(removal_batch_people.delete().where(removal_batch_people.c.integration_id == integration_id))
    conn.execute(removal_batches.delete().where(removal_batches.c.integration_id == integration_id))


def removed_in_window(conn: Connection, integration_id: str, since: datetime) -> int:
    """Removals of an integration since an instant that count toward the removal guard.

    Every cause counts (full sync, webhooks, effective dates) except an approval: those removals
    were already weighed when they tripped the guard, and counting them again would hold the
    next ordinary leaver because of a batch an admin just cleared.
    """
    stmt = sa.select(sa.func.count()).select_from(store_changes).where(
        store_changes.c.integration_id == integration_id, store_changes.c.kind == "person.removed",
        store_changes.c.at >= since,
        sa.or_(store_changes.c.cause.is_(None), store_changes.c.cause != "approval"))
    return conn.execute(stmt).scalar_one()
