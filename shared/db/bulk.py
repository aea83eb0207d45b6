"""Bulk writes: as few round trips, and as little Python per row, as each database allows.

* PostgreSQL: inserts by binary ``COPY``; an update of many rows by ``COPY`` into a temporary
  table and one ``UPDATE ... FROM`` (four round trips instead of one statement per row).
* SQLite: one prepared statement, run by the driver's ``executemany`` over plain tuples.

Both skip SQLAlchemy's per-row parameter handling, which at 100,000 rows cost more than the
database's own work (docs/benchmarks.md). Values are stored exactly as before: SQLite gets each
column type's own bind processor (a datetime becomes SQLAlchemy's text, a None JSON value the
text ``null``); PostgreSQL gets psycopg's binary dumpers, with a None JSON value stored as NULL.
JSON is encoded by msgspec: the same JSON as ``json.dumps`` for the plain values we store, several
times faster (it would also accept a datetime, which ``json.dumps`` refuses).
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

# Below ~100 rows an executemany is as fast as creating, filling and dropping a temporary table
# (PostgreSQL, 100,000 people: 100 rows 5.6 ms either way; 1,000 rows 30 vs 19 ms).
PG_UPDATE_VIA_COPY_MIN = 100

_encode_json = msgspec.json.Encoder().encode
_temp_names = itertools.count(1)
_NOTHING = object()


def insert_rows(conn: Connection, table: sa.Table, rows: Iterable[dict[str, Any]]) -> None:
    """Insert many rows in as few round trips as the database allows.

    Every row must carry the keys of the first (the columns written); other keys are ignored.
    ``rows`` may be a generator: on PostgreSQL the server then stores the first rows while the
    next are being made, instead of after all of them.
    """
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return
    rows = itertools.chain((first,), iterator)
    columns = [c for c in table.columns if c.name in first]
    dialect = conn.dialect.name
    if dialect == "postgresql":
        _copy_in(conn, _quote(conn, table.name), columns, rows)
    elif dialect == "sqlite":
        names = ", ".join(_quote(conn, c.name) for c in columns)
        marks = ", ".join("?" * len(columns))
        _executemany(conn, f"INSERT INTO {_quote(conn, table.name)} ({names}) VALUES ({marks})",
                     _sqlite_rows(conn, columns, rows))
    else:
        conn.execute(table.insert(), list(rows))


def update_rows(conn: Connection, table: sa.Table, key: str, rows: Sequence[dict[str, Any]]) -> None:
    """Update many rows by ``key`` (the primary key), each row setting the columns it carries.

    Rows are grouped by the set of columns they carry; within a group a key given twice gets the
    last row's values, as if the rows were applied in order.
    """
    if not rows:
        return
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    dialect = conn.dialect.name
    for names, group in groups.items():
        values = [table.c[name] for name in names if name != key]
        if not values:
            continue
        if dialect == "postgresql" and len(group) >= PG_UPDATE_VIA_COPY_MIN:
            _update_via_copy(conn, table, table.c[key], values, group)
        elif dialect == "sqlite":
            assignments = ", ".join(f"{_quote(conn, c.name)} = ?" for c in values)
            _executemany(conn, f"UPDATE {_quote(conn, table.name)} SET {assignments} "
                               f"WHERE {_quote(conn, key)} = ?",
                         _sqlite_rows(conn, [*values, table.c[key]], group))
        else:
            stmt = (table.update().where(table.c[key] == sa.bindparam("_key"))
                    .values({c.name: sa.bindparam(c.name) for c in values}))
            conn.execute(stmt, [{**r, "_key": r[key]} for r in group])


def _tuples(names: Sequence[str], rows: Iterable[dict[str, Any]],
            converters: dict[int, Callable[[Any], Any]]) -> Iterator[Sequence[Any]]:
    """Rows as sequences in ``names`` order, the value in column ``i`` passed to ``converters[i]``."""
    get = itemgetter(*names)
    tuples = map(get, rows) if len(names) > 1 else ((value,) for value in map(get, rows))
    if not converters:
        return tuples
    items = list(converters.items())

    def converted() -> Iterator[list[Any]]:
        for row in tuples:
            row = list(row)
            for i, convert in items:
                row[i] = convert(row[i])
            yield row
    return converted()


def _same_as_last(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``convert``, remembering its last answer: one run writes the same ``now`` into every row.

    By identity, not equality: two equal datetimes in different zones are stored differently.
    """
    last: list[Any] = [_NOTHING, None]

    def remembered(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, convert(value)
        return last[1]
    return remembered


def _is_json(column: sa.Column) -> bool:
    return isinstance(column.type, sa.JSON) or "JSON" in type(column.type).__name__.upper()


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


# --- PostgreSQL ---------------------------------------------------------------------------------

def _copy_in(conn: Connection, target: str, columns: Sequence[sa.Column],
             rows: Iterable[dict[str, Any]]) -> None:
    """COPY rows into ``target`` (a quoted name); binary when psycopg knows every column type.

    Binary spares the text formatting on our side and the parsing on the server's (client CPU
    for 100,000 people rows: 0.51 s as text, 0.17 s binary).
    """
    from psycopg.types.json import Json, Jsonb

    dbapi = conn.connection.driver_connection  # psycopg.Connection, in SQLAlchemy's transaction
    type_names = [c.type.compile(dialect=conn.dialect).split("(")[0].strip().lower()
                  for c in columns]
    try:
        oids: list[int] | None = [dbapi.adapters.types.get_oid(name) for name in type_names]
    except KeyError:  # a type psycopg cannot name: let the server parse text
        oids = None
    converters: dict[int, Callable[[Any], Any]] = {}
    for i, column in enumerate(columns):
        if _is_json(column):
            converters[i] = _pg_json(None if oids is None else
                                     Jsonb if type_names[i] == "jsonb" else Json)
    names = [c.name for c in columns]
    quoted = ", ".join(_quote(conn, name) for name in names)
    binary = " (FORMAT BINARY)" if oids is not None else ""
    with dbapi.cursor() as cur:
        with cur.copy(f"COPY {target} ({quoted}) FROM STDIN{binary}") as copy:
            if oids is not None:
                copy.set_types(oids)
            write = copy.write_row
            for row in _tuples(names, rows, converters):
                write(row)


def _pg_json(wrapper: Any) -> Callable[[Any], Any]:
    """JSON for COPY: a psycopg wrapper (binary) or JSON text; None stays NULL."""
    if wrapper is None:
        return lambda value: None if value is None else _encode_json(value).decode()
    return lambda value: None if value is None else wrapper(value, _encode_json)


def _update_via_copy(conn: Connection, table: sa.Table, key: sa.Column,
                     values: Sequence[sa.Column], group: Sequence[dict[str, Any]]) -> None:
    """UPDATE ... FROM a temporary table filled by COPY: four round trips for any number of rows."""
    # Last row wins for a repeated key (what applying the rows one by one would leave).
    latest = list({row[key.name]: row for row in group}.values())
    temp = _quote(conn, f"_bulk_{table.name}_{next(_temp_names)}")
    target, key_name = _quote(conn, table.name), _quote(conn, key.name)
    names = ", ".join(_quote(conn, c.name) for c in (key, *values))
    assignments = ", ".join(f"{_quote(conn, c.name)} = s.{_quote(conn, c.name)}" for c in values)
    dbapi = conn.connection.driver_connection
    with dbapi.cursor() as cur:
        # AS SELECT ... WITH NO DATA: the columns' exact types, none of the table's constraints.
        cur.execute(f"CREATE TEMPORARY TABLE {temp} ON COMMIT DROP AS "
                    f"SELECT {names} FROM {target} WITH NO DATA")
        _copy_in(conn, temp, [key, *values], latest)
        cur.execute(f"UPDATE {target} AS t SET {assignments} FROM {temp} AS s "
                    f"WHERE t.{key_name} = s.{key_name}")
        cur.execute(f"DROP TABLE {temp}")


# --- SQLite -------------------------------------------------------------------------------------

def _sqlite_rows(conn: Connection, columns: Sequence[sa.Column],
                 rows: Iterable[dict[str, Any]]) -> Iterator[Sequence[Any]]:
    """Rows in ``columns`` order, each value converted by its column type's bind processor."""
    dialect = conn.dialect
    converters: dict[int, Callable[[Any], Any]] = {}
    for i, column in enumerate(columns):
        if _is_json(column):
            # SQLAlchemy's JSON type stores None as the JSON text 'null' (none_as_null=False).
            converters[i] = _same_as_last(lambda value: _encode_json(value).decode())
            continue
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            converters[i] = _same_as_last(process)
    return _tuples([c.name for c in columns], rows, converters)


def _executemany(conn: Connection, sql: str, params: Iterator[Sequence[Any]]) -> None:
    cursor = conn.connection.driver_connection.cursor()  # sqlite3, in SQLAlchemy's transaction
    try:
        cursor.executemany(sql, params)
    finally:
        cursor.close()
