"""The Alembic migrations build exactly the schema the code declares (shared/db/tables.py), on
SQLite and on PostgreSQL, and the newest one goes down and up again without losing a row."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext

from shared.db import ROOT
from shared.db.tables import metadata


def alembic_config(engine) -> AlembicConfig:
    cfg = AlembicConfig(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["connection_engine"] = engine
    return cfg


def schema_differences(engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), metadata)


def test_the_migrated_schema_is_the_declared_one(ctx):
    assert schema_differences(ctx.db.engine) == []


def test_the_change_log_keeps_its_entries_across_the_newest_migration(ctx):
    engine = ctx.db.engine
    entry = {"email": {"before": None, "after": "ann@example.com"}, "n": 1}
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO stores (store_id, last_seq, delivered_seq, created_at) "
                             "VALUES ('s', 1, 0, CURRENT_TIMESTAMP)"))
        conn.execute(metadata.tables["store_changes"].insert().values(
            store_id="s", seq=1, at=sa.func.current_timestamp(), kind="person.added", changes=entry,
            actor={"name": "admin"}))
    cfg = alembic_config(engine)
    command.downgrade(cfg, "-1")
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        row = conn.execute(sa.select(metadata.tables["store_changes"])).mappings().one()
    assert row["changes"] == entry and row["actor"] == {"name": "admin"}
    assert schema_differences(engine) == []
