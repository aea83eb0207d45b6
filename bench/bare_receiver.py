"""The floor for bench/webhooks.py: a bare Flask endpoint doing the receiver's one INSERT.

    gunicorn --bind 127.0.0.1:PORT --workers 1 "bench.bare_receiver:create_app()"
    (env DATABASE_URL: the bench's private PostgreSQL schema)

Same route, same framework, same engine factory (``shared.db.make_engine``: SQLAlchemy Core,
psycopg, ``pool_pre_ping``), same gunicorn settings as the real receiver; it parses the JSON
body (the INSERT needs its fields) and commits one row into ``bare_inbox``, a copy of
``webhook_inbox`` (same columns, same unique key), then answers 200. What it leaves out is
everything the real receiver adds: the integration lookup, the secret's decryption and the
HMAC-SHA512 check, the ``last_event_at`` update, the savepoint around the INSERT, and the
debounced enqueue in Redis. Benchmark-only; never imported by the app.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import Flask, jsonify, request

from shared.db import make_engine

metadata = sa.MetaData()
bare_inbox = sa.Table(
    "bare_inbox", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
    sa.Column("integration_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("employee_id", sa.String(64), nullable=False),
    sa.Column("triggered_at", sa.String(40), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True)),
    sa.Column("run_id", sa.String(36)),
    sa.UniqueConstraint("integration_id", "event_type", "employee_id", "triggered_at",
                        name="uq_bare_inbox_event"),
)
sa.Index("ix_bare_inbox_pending", bare_inbox.c.status, bare_inbox.c.integration_id)


def create_app() -> Flask:
    engine = make_engine(os.environ["DATABASE_URL"])
    app = Flask(__name__)

    @app.post("/webhooks/hibob/<integration_id>")
    def receive(integration_id: str):
        event = json.loads(request.get_data(cache=False))
        with engine.begin() as conn:
            conn.execute(bare_inbox.insert().values(
                integration_id=integration_id, event_type=event["type"],
                employee_id=str(event["data"]["employeeId"]), triggered_at=event["triggeredAt"],
                received_at=datetime.now(timezone.utc), status="pending"))
        return jsonify({"status": "accepted"})

    return app
