"""Bulk writes: PostgreSQL gets COPY (one round trip for 100,000 rows), others executemany."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

_JSON_TYPES = (sa.JSON,)


def _is_json(column: sa.Column) -> bool:
    return isinstance(column.type, _JSON_TYPES) or "JSON" in type(column.type).__name__.upper()


def insert_rows(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows in as few round trips as the database allows."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), list(rows))
        return
    columns = [c for c in table.columns if c.name in rows[0]]
    names = [c.name for c in columns]
    json_cols = {c.name for c in columns if _is_json(c)}
    dbapi = conn.connection.driver_connection  # psycopg.Connection
    with dbapi.cursor() as cur:
        with cur.copy(f'COPY {table.name} ({", ".join(names)}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([json.dumps(row[n]) if n in json_cols and row[n] is not None else row[n]
                                for n in names])


def update_rows(conn: Connection, table: sa.Table, key: str, rows: Sequence[dict[str, Any]]) -> None:
    """Update many rows by primary key; every row must carry the same set of columns."""
    if not rows:
        return
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    for cols, group in groups.items():
        stmt = (table.update().where(table.c[key] == sa.bindparam("_key"))
                .values({c: sa.bindparam(c) for c in cols if c != key}))
        conn.execute(stmt, [{**r, "_key": r[key]} for r in group])
