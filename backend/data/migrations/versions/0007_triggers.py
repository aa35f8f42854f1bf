"""Triggers and run lifecycle: schedules, webhook hooks, run idempotency keys, and the
reused marker of resumed node executions.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("node_executions") as batch:
        batch.add_column(sa.Column("reused_from", sa.String(64)))
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("graph_id", sa.String(64), nullable=False),
        sa.Column("graph_version", sa.Integer),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("cron", sa.String(255), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("inputs", sa.JSON, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("misfire", sa.String(16), nullable=False),
        sa.Column("next_fire_at", sa.Float, nullable=False),
        sa.Column("last_slot_at", sa.Float),
        sa.Column("last_run_id", sa.String(64)),
        sa.Column("last_error", sa.Text),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_schedules_user_id", "schedules", ["user_id"])
    op.create_index("ix_schedules_due", "schedules", ["enabled", "next_fire_at"])
    op.create_table(
        "hooks",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("graph_id", sa.String(64), nullable=False),
        sa.Column("graph_version", sa.Integer),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("input_name", sa.String(255), nullable=False),
        sa.Column("auth", sa.String(16), nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_hooks_user_id", "hooks", ["user_id"])
    op.create_table(
        "run_keys",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("scope", sa.String(128), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float),
    )
    op.create_index("ix_run_keys_run_id", "run_keys", ["run_id"])
    op.create_index("ix_run_keys_scope_created", "run_keys", ["scope", "created_at"])
