"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('people',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('store_id', sa.String(length=64), nullable=False),
    sa.Column('integration_id', sa.String(length=36), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('first_name', sa.String(length=200), nullable=True),
    sa.Column('last_name', sa.String(length=200), nullable=True),
    sa.Column('display_name', sa.String(length=400), nullable=True),
    sa.Column('birthday', sa.String(length=5), nullable=True),
    sa.Column('start_date', sa.String(length=10), nullable=True),
    sa.Column('leave_date', sa.String(length=10), nullable=True),
    sa.Column('department', sa.String(length=200), nullable=True),
    sa.Column('site', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('removal_reason', sa.String(length=16), nullable=True),
    sa.Column('removal_rejected', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('sort_key', sa.String(length=400), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_people')),
    sa.UniqueConstraint('store_id', 'external_id', name='uq_people_store_external')
    )
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.create_index('ix_people_integration', ['integration_id'], unique=False)
        batch_op.create_index('ix_people_store_status_sort', ['store_id', 'status', 'sort_key', 'id'], unique=False)

    op.create_table('store_changes',
    sa.Column('store_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('integration_id', sa.String(length=36), nullable=True),
    sa.Column('person_id', sa.String(length=36), nullable=True),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('run_id', sa.String(length=36), nullable=True),
    sa.Column('cause', sa.String(length=32), nullable=True),
    sa.Column('actor', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('changes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('store_id', 'seq', name=op.f('pk_store_changes'))
    )
    with op.batch_alter_table('store_changes', schema=None) as batch_op:
        batch_op.create_index('ix_store_changes_integration_kind_at', ['integration_id', 'kind', 'at'], unique=False)
        batch_op.create_index('ix_store_changes_run', ['run_id', 'seq'], unique=False)

    op.create_table('stores',
    sa.Column('store_id', sa.String(length=64), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('delivered_seq', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('store_id', name=op.f('pk_stores'))
    )
    op.create_table('sync_runs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('integration_id', sa.String(length=36), nullable=False),
    sa.Column('store_id', sa.String(length=64), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('phase', sa.String(length=12), nullable=True),
    sa.Column('fetched', sa.Integer(), nullable=True),
    sa.Column('counts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('error', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('actor', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('scope', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_runs'))
    )
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.create_index('ix_sync_runs_integration_created', ['integration_id', 'created_at'], unique=False)
        batch_op.create_index('ix_sync_runs_status', ['status'], unique=False)

    op.create_table('webhook_inbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('integration_id', sa.String(length=36), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('employee_id', sa.String(length=64), nullable=False),
    sa.Column('triggered_at', sa.String(length=40), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('run_id', sa.String(length=36), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_inbox')),
    sa.UniqueConstraint('integration_id', 'event_type', 'employee_id', 'triggered_at', name='uq_webhook_inbox_event')
    )
    with op.batch_alter_table('webhook_inbox', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_inbox_pending', ['status', 'integration_id'], unique=False)

    op.create_table('integrations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('store_id', sa.String(length=64), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('state_reason', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('warnings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('settings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('credentials_enc', sa.Text(), nullable=False),
    sa.Column('credentials_version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('webhook_secret_enc', sa.Text(), nullable=True),
    sa.Column('webhook_prev_secret_enc', sa.Text(), nullable=True),
    sa.Column('webhook_prev_valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_ping_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('field_presence', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('failure_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disconnected_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['store_id'], ['stores.store_id'], name=op.f('fk_integrations_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integrations'))
    )
    with op.batch_alter_table('integrations', schema=None) as batch_op:
        batch_op.create_index('ix_integrations_state_next_run', ['state', 'next_run_at'], unique=False)
        batch_op.create_index('uq_integrations_live_store', ['store_id'], unique=True, sqlite_where=sa.text("state != 'disconnected'"), postgresql_where=sa.text("state != 'disconnected'"))



def downgrade() -> None:
    with op.batch_alter_table('integrations', schema=None) as batch_op:
        batch_op.drop_index('uq_integrations_live_store', sqlite_where=sa.text("state != 'disconnected'"), postgresql_where=sa.text("state != 'disconnected'"))
        batch_op.drop_index('ix_integrations_state_next_run')

    op.drop_table('integrations')
    with op.batch_alter_table('webhook_inbox', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_inbox_pending')

    op.drop_table('webhook_inbox')
    with op.batch_alter_table('sync_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_runs_status')
        batch_op.drop_index('ix_sync_runs_integration_created')

    op.drop_table('sync_runs')
    op.drop_table('stores')
    with op.batch_alter_table('store_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_store_changes_run')
        batch_op.drop_index('ix_store_changes_integration_kind_at')

    op.drop_table('store_changes')
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_index('ix_people_store_status_sort')
        batch_op.drop_index('ix_people_integration')

    op.drop_table('people')
