"""Sub-agent runs (parent, depth), graph content hashes (sub-graph reuse on import) and
the per-user key/value store of the Persist/Retrieve blocks.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("graph_executions") as batch:
        batch.add_column(sa.Column("parent_run_id", sa.String(64)))
        batch.add_column(sa.Column("parent_node_exec_id", sa.String(64)))
        batch.add_column(sa.Column("depth", sa.Integer, nullable=False, server_default="0"))
    op.create_index("ix_graph_executions_parent", "graph_executions", ["parent_run_id"])
    with op.batch_alter_table("graphs") as batch:
        batch.add_column(sa.Column("content_hash", sa.String(64)))
    op.create_index("ix_graphs_user_hash", "graphs", ["user_id", "content_hash"])
    op.create_table(
        "agent_kv",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("scope", sa.String(255), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.JSON),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
