"""change log as JSON text: store_changes.changes and .actor become json (not jsonb) on PostgreSQL

The change log is append-only and only ever read whole, never queried inside its JSON: storing the
text as written spares the server jsonb's parse and re-encoding on every insert (for a
100,000-person initial load, about 0.6 s of the database's time: docs/benchmarks.md). SQLite keeps
its JSON as text already; nothing changes there.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 20:45:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

COLUMNS = ("changes", "actor")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in COLUMNS:
        op.alter_column("store_changes", column, type_=sa.JSON(), existing_type=postgresql.JSONB(),
                        postgresql_using=f"{column}::json")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in COLUMNS:
        op.alter_column("store_changes", column, type_=postgresql.JSONB(), existing_type=sa.JSON(),
                        postgresql_using=f"{column}::jsonb")
