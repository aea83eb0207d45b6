"""The schema: everything that must not be lost lives in these tables (Alembic migrates them)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

# JSON on SQLite, JSONB on PostgreSQL.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# The change log's JSON is written once and read whole, never queried inside: stored as the text
# written (PostgreSQL `json`), which spares the server jsonb's parsing on every insert.
LogJSON = sa.JSON()
Instant = sa.DateTime(timezone=True)

stores = sa.Table(
    "stores", metadata,
    sa.Column("store_id", sa.String(64), primary_key=True),
    # Per-store change-feed counter: the feed is ordered per store with no gaps.
    sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
    # How far the STORE_WEBHOOK_URL delivery has got.
    sa.Column("delivered_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_at", Instant, nullable=False),
)

integrations = sa.Table(
    "integrations", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("store_id", sa.String(64), sa.ForeignKey("stores.store_id"), nullable=False),
    sa.Column("provider", sa.String(16), nullable=False),
    sa.Column("state", sa.String(24), nullable=False),
    sa.Column("state_reason", JSONType),
    sa.Column("warnings", JSONType, nullable=False),
    sa.Column("settings", JSONType, nullable=False),
    sa.Column("credentials_enc", sa.Text, nullable=False),
    sa.Column("credentials_version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("webhook_secret_enc", sa.Text),
    sa.Column("webhook_prev_secret_enc", sa.Text),
    sa.Column("webhook_prev_valid_until", Instant),
    sa.Column("last_event_at", Instant),
    sa.Column("last_ping_at", Instant),
    sa.Column("next_run_at", Instant),
    # Share of people for whom each field was present at the last full sync (field_hidden rule).
    sa.Column("field_presence", JSONType, nullable=False),
    # Consecutive failed runs, for backing off; reset by a success.
    sa.Column("failure_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", Instant, nullable=False),
    sa.Column("updated_at", Instant, nullable=False),
    sa.Column("disconnected_at", Instant),
)
# At most one live (not disconnected) integration per store.
sa.Index("uq_integrations_live_store", integrations.c.store_id, unique=True,
         sqlite_where=integrations.c.state != "disconnected",
         postgresql_where=integrations.c.state != "disconnected")
sa.Index("ix_integrations_state_next_run", integrations.c.state, integrations.c.next_run_at)

people = sa.Table(
    "people", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("store_id", sa.String(64), nullable=False),
    sa.Column("integration_id", sa.String(36), nullable=False),
    sa.Column("external_id", sa.String(64), nullable=False),
    sa.Column("email", sa.String(320)),
    sa.Column("first_name", sa.String(200)),
    sa.Column("last_name", sa.String(200)),
    sa.Column("display_name", sa.String(400)),
    sa.Column("birthday", sa.String(5)),
    sa.Column("start_date", sa.String(10)),
    sa.Column("leave_date", sa.String(10)),
    sa.Column("department", sa.String(200)),
    sa.Column("site", sa.String(200)),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("removal_reason", sa.String(16)),
    sa.Column("removal_rejected", sa.Boolean, nullable=False, server_default=sa.false()),
    # Lower-cased "last first" name: the stable, indexed order of people lists.
    sa.Column("sort_key", sa.String(400), nullable=False),
    sa.Column("added_at", Instant, nullable=False),
    sa.Column("updated_at", Instant, nullable=False),
    sa.Column("removed_at", Instant),
    sa.UniqueConstraint("store_id", "external_id", name="uq_people_store_external"),
)
sa.Index("ix_people_store_status_sort", people.c.store_id, people.c.status, people.c.sort_key, people.c.id)
sa.Index("ix_people_integration", people.c.integration_id)

sync_runs = sa.Table(
    "sync_runs", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("integration_id", sa.String(36), nullable=False),
    sa.Column("store_id", sa.String(64), nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("phase", sa.String(12)),
    sa.Column("fetched", sa.Integer),
    sa.Column("counts", JSONType, nullable=False),
    sa.Column("error", JSONType),
    sa.Column("actor", JSONType),
    # For webhook runs: the employee ids to re-read (empty = full sync).
    sa.Column("scope", JSONType),
    sa.Column("created_at", Instant, nullable=False),
    sa.Column("started_at", Instant),
    sa.Column("finished_at", Instant),
)
sa.Index("ix_sync_runs_integration_created", sync_runs.c.integration_id, sync_runs.c.created_at)
sa.Index("ix_sync_runs_status", sync_runs.c.status)

# The change log and the store's change feed are one table: a change is "in the store" once here.
store_changes = sa.Table(
    "store_changes", metadata,
    sa.Column("store_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("at", Instant, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("integration_id", sa.String(36)),
    sa.Column("person_id", sa.String(36)),
    sa.Column("external_id", sa.String(64)),
    sa.Column("run_id", sa.String(36)),
    sa.Column("cause", sa.String(32)),
    sa.Column("actor", LogJSON),
    sa.Column("changes", LogJSON, nullable=False),
)
sa.Index("ix_store_changes_run", store_changes.c.run_id, store_changes.c.seq)
sa.Index("ix_store_changes_integration_kind_at", store_changes.c.integration_id, store_changes.c.kind,
         store_changes.c.at)

webhook_inbox = sa.Table(
    "webhook_inbox", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("integration_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("employee_id", sa.String(64), nullable=False),
    sa.Column("triggered_at", sa.String(40), nullable=False),
    sa.Column("received_at", Instant, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("applied_at", Instant),
    sa.Column("run_id", sa.String(36)),
    sa.UniqueConstraint("integration_id", "event_type", "employee_id", "triggered_at",
                        name="uq_webhook_inbox_event"),
)
sa.Index("ix_webhook_inbox_pending", webhook_inbox.c.status, webhook_inbox.c.integration_id)

# The removal guard's held removals (docs/removal-guard.md): at most one open batch per
# integration, and the people in it. A batch's id changes whenever its people change, so an
# approval or rejection names exactly the list the admin saw.
removal_batches = sa.Table(
    "removal_batches", metadata,
    sa.Column("integration_id", sa.String(36), sa.ForeignKey("integrations.id"), primary_key=True),
    sa.Column("store_id", sa.String(64), nullable=False),
    sa.Column("batch_id", sa.String(36), nullable=False),
    sa.Column("held_since", Instant, nullable=False),
    # The guard's limit when it tripped: what the admin is told was exceeded.
    sa.Column("threshold", sa.Integer, nullable=False),
    sa.Column("updated_at", Instant, nullable=False),
)

removal_batch_people = sa.Table(
    "removal_batch_people", metadata,
    sa.Column("integration_id", sa.String(36), sa.ForeignKey("removal_batches.integration_id",
                                                             ondelete="CASCADE"), primary_key=True),
    # A purge (disconnect ?people=purge) erases people; their held entries go with them.
    sa.Column("person_id", sa.String(36), sa.ForeignKey("people.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("external_id", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(16), nullable=False),
    sa.Column("held_at", Instant, nullable=False),
    sa.Column("run_id", sa.String(36), nullable=False),
)
