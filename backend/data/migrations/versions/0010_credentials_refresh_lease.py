"""A refresh lease on each credential: which executor is refreshing its OAuth2 token, and
until when, so only one asks the provider at a time.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("credentials", sa.Column("refresh_owner", sa.String(64)))
    op.add_column("credentials", sa.Column("refresh_until", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("credentials") as batch:
        batch.drop_column("refresh_until")
        batch.drop_column("refresh_owner")
