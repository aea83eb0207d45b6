"""Alembic environment: migrates the engine handed in by Database.migrate(), or DATABASE_URL."""
from __future__ import annotations

from alembic import context

from shared.db import make_engine
from shared.db.tables import metadata

config = context.config


def run_migrations_online() -> None:
    engine = config.attributes.get("connection_engine")
    if engine is None:
        from shared.config import load_config

        engine = make_engine(load_config({"env": "local"}).database_url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
