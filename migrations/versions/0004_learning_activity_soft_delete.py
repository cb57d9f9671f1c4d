"""learning activity soft delete

A vendor can withdraw an event (an xAPI voiding statement, a practice app's `deleted_at`):
the row stays, inactive, like every other soft-deleted entity. Rows loaded before were
never withdrawn, so they start active.

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('learning_activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true(),
                                      comment='False once the source deleted the record or left it out of a snapshot'))
        batch_op.add_column(sa.Column('deactivated_at', sa.DateTime(timezone=True), nullable=True,
                                      comment='When the warehouse first saw the record gone (UTC)'))


def downgrade() -> None:
    with op.batch_alter_table('learning_activity', schema=None) as batch_op:
        batch_op.drop_column('deactivated_at')
        batch_op.drop_column('active')
