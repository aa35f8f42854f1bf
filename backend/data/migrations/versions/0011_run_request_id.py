"""The request id of the API request that submitted a run, for its executor's log lines.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("graph_executions") as batch:
        batch.add_column(sa.Column("request_id", sa.String(128)))
