"""resource directory: entries (deployment-wide and group-local) and the change counter

Revision ID: 0003r
Revises: 0002
Create Date: 2026-11-25 13:15:47.229754
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0003r'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this change."""
    op.create_table('resource_directory',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # The one counter row, so the first change only has to raise it.
    op.bulk_insert(sa.table('resource_directory', sa.column('id', sa.Integer()),
                            sa.column('version', sa.BigInteger())), [{'id': 1, 'version': 0}])
    op.create_table('resources',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('resource_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('group_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('shipped_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('position', sa.Integer(), nullable=True),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('categories', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('service_area', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('country', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
    sa.Column('region', sa.Text(), nullable=True),
    sa.Column('city', sa.Text(), nullable=True),
    sa.Column('phone', sa.Text(), nullable=True),
    sa.Column('text_line', sa.Text(), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('email', sa.Text(), nullable=True),
    sa.Column('hours', sa.Text(), nullable=True),
    sa.Column('languages', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('minimum_age', sa.Integer(), nullable=True),
    sa.Column('maximum_age', sa.Integer(), nullable=True),
    sa.Column('cost', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('payment_notes', sa.Text(), nullable=True),
    sa.Column('assured_date', sa.Date(), nullable=True),
    sa.Column('is_emergency', sa.Boolean(), nullable=False),
    sa.Column('verification', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('scope', 'resource_id', name='uq_resource_scope_id')
    )
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.create_index('ix_resource_order', ['position', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resources_group_id'), ['group_id'], unique=False)


def downgrade() -> None:
    """Undo this change."""
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resources_group_id'))
        batch_op.drop_index('ix_resource_order')

    op.drop_table('resources')
    op.drop_table('resource_directory')
