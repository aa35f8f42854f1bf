"""Reads that stay cheap on big runs, and retention: per-run node counters kept by
triggers, per-run LLM usage, node duration counters for /metrics, an index on when runs
ended. Existing rows are counted into the new tables.

The triggers on node_executions keep run_node_counts exact whoever writes the table.
A later batch migration that recreates node_executions (SQLite's ALTER of a column)
drops them: it must create them again (``create_count_triggers``).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# A copy of backend.data.stats.DURATION_BOUNDS as of this revision (for the backfill).
USAGE = ("input_tokens", "output_tokens", "llm_calls")
DURATION_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

_SQLITE_ADD = """
    INSERT INTO run_node_counts (run_id, status, executions, attempts)
    VALUES (NEW.run_id, NEW.status, 1, NEW.attempt)
    ON CONFLICT (run_id, status) DO UPDATE SET
        executions = executions + 1, attempts = attempts + excluded.attempts;
"""
SQLITE_TRIGGERS = (
    f"""
    CREATE TRIGGER tr_node_counts_insert AFTER INSERT ON node_executions
    BEGIN {_SQLITE_ADD} END
    """,
    f"""
    CREATE TRIGGER tr_node_counts_update AFTER UPDATE OF status, attempt ON node_executions
    WHEN OLD.status IS NOT NEW.status OR OLD.attempt IS NOT NEW.attempt
    BEGIN
        UPDATE run_node_counts SET executions = executions - 1, attempts = attempts - OLD.attempt
        WHERE run_id = OLD.run_id AND status = OLD.status;
        {_SQLITE_ADD}
    END
    """,
)
POSTGRES_TRIGGERS = (
    """
    CREATE OR REPLACE FUNCTION agent_server_node_counts() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            IF OLD.status = NEW.status AND OLD.attempt = NEW.attempt THEN
                RETURN NULL;
            END IF;
            UPDATE run_node_counts
            SET executions = executions - 1, attempts = attempts - OLD.attempt
            WHERE run_id = OLD.run_id AND status = OLD.status;
        END IF;
        INSERT INTO run_node_counts (run_id, status, executions, attempts)
        VALUES (NEW.run_id, NEW.status, 1, NEW.attempt)
        ON CONFLICT (run_id, status) DO UPDATE SET
            executions = run_node_counts.executions + 1,
            attempts = run_node_counts.attempts + EXCLUDED.attempts;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER tr_node_counts AFTER INSERT OR UPDATE OF status, attempt
    ON node_executions FOR EACH ROW EXECUTE FUNCTION agent_server_node_counts()
    """,
)


def create_count_triggers() -> None:
    statements: Sequence[str] = (
        POSTGRES_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS
    )
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "run_node_counts",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("executions", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "run_llm_usage",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(255), primary_key=True),
        sa.Column("input_tokens", sa.BigInteger, nullable=False),
        sa.Column("output_tokens", sa.BigInteger, nullable=False),
        sa.Column("llm_calls", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "node_durations",
        sa.Column("block_id", sa.String(64), primary_key=True),
        sa.Column("bucket", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("executions", sa.BigInteger, nullable=False),
        sa.Column("total_seconds", sa.Float, nullable=False),
    )
    op.create_index("ix_graph_executions_ended", "graph_executions", ["ended_at"])
    # The metrics scrape no longer reads node executions by end time.
    op.drop_index("ix_node_executions_ended_at", "node_executions")
    _backfill()
    create_count_triggers()


def _backfill() -> None:
    op.execute(
        "INSERT INTO run_node_counts (run_id, status, executions, attempts) "
        "SELECT run_id, status, COUNT(*), SUM(attempt) FROM node_executions "
        "GROUP BY run_id, status"
    )
    duration = "(ended_at - started_at)"
    bucket = " ".join(f"WHEN {duration} <= {b} THEN {i}" for i, b in enumerate(DURATION_BOUNDS))
    op.execute(
        "INSERT INTO node_durations (block_id, bucket, executions, total_seconds) "
        f"SELECT block_id, b, COUNT(*), SUM(d) FROM (SELECT block_id, {duration} AS d, "
        f"CASE {bucket} ELSE {len(DURATION_BOUNDS)} END AS b FROM node_executions "
        "WHERE ended_at IS NOT NULL AND started_at IS NOT NULL) AS timed GROUP BY block_id, b"
    )
    _backfill_llm_usage()


def _backfill_llm_usage() -> None:
    conn = op.get_bind()
    nodes = sa.table(
        "node_executions", sa.column("run_id"), sa.column("stats", sa.JSON), sa.column("status")
    )
    # Only rows whose stats name a model are read (the text test is a cheap prefilter).
    rows = conn.execute(
        sa.select(nodes.c.run_id, nodes.c.stats).where(
            sa.cast(nodes.c.stats, sa.Text).like('%"model"%')
        )
    )
    totals: dict[tuple[str, str], dict[str, int]] = {}
    for run_id, stats in rows:
        if not isinstance(stats, dict) or not stats.get("model"):
            continue
        counts = totals.setdefault((run_id, str(stats["model"])), dict.fromkeys(USAGE, 0))
        for name in USAGE:
            counts[name] += int(stats.get(name, 0))
    if totals:
        usage = sa.table("run_llm_usage", *(sa.column(c) for c in ("run_id", "model", *USAGE)))
        conn.execute(
            usage.insert(),
            [{"run_id": r, "model": m, **counts} for (r, m), counts in totals.items()],
        )
