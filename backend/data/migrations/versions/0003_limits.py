"""Claims without progress per run (poison runs) and per-node block stats.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("graph_executions") as batch:
        batch.add_column(
            sa.Column("stalled_claims", sa.Integer, nullable=False, server_default="0")
        )
    with op.batch_alter_table("node_executions") as batch:
        batch.add_column(sa.Column("stats", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("node_executions") as batch:
        batch.drop_column("stats")
    with op.batch_alter_table("graph_executions") as batch:
        batch.drop_column("stalled_claims")
