"""removal batches: the removal guard's held removals (docs/removal-guard.md)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 17:31:25.939036
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('removal_batches',
    sa.Column('integration_id', sa.String(length=36), nullable=False),
    sa.Column('store_id', sa.String(length=64), nullable=False),
    sa.Column('batch_id', sa.String(length=36), nullable=False),
    sa.Column('held_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['integration_id'], ['integrations.id'], name=op.f('fk_removal_batches_integration_id_integrations')),
    sa.PrimaryKeyConstraint('integration_id', name=op.f('pk_removal_batches'))
    )
    op.create_table('removal_batch_people',
    sa.Column('integration_id', sa.String(length=36), nullable=False),
    sa.Column('person_id', sa.String(length=36), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['integration_id'], ['removal_batches.integration_id'], name=op.f('fk_removal_batch_people_integration_id_removal_batches'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_removal_batch_people_person_id_people'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('integration_id', 'person_id', name=op.f('pk_removal_batch_people'))
    )


def downgrade() -> None:
    op.drop_table('removal_batch_people')
    op.drop_table('removal_batches')
