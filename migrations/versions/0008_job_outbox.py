"""job outbox: jobs promised by committed transactions, sent when the queue answers

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:50:00

"""
from alembic import op
import sqlalchemy as sa

import yishi.core.db


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('job_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=120), nullable=False),
    sa.Column('job_name', sa.String(length=200), nullable=False),
    sa.Column('arguments', sa.JSON(), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', yishi.core.db.AwareDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_outbox'))
    )
    with op.batch_alter_table('job_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_outbox_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_outbox_job_id'), ['job_id'], unique=False)


def downgrade():
    with op.batch_alter_table('job_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_outbox_job_id'))
        batch_op.drop_index(batch_op.f('ix_job_outbox_created_at'))
    op.drop_table('job_outbox')
