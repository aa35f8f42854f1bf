"""Aggregates for run views and the metrics endpoint, read from counters and indexes:
none of them reads node execution rows, so they cost the same on any size of database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from backend.data import schema as t
from backend.data.execution import RunStatus
from backend.data.sqlbase import SQLBase
from backend.data.stats import DURATION_BOUNDS, DurationHistogram, ModelUsage, RunStats


class StatsMixin(SQLBase):
    def count_runs_by_status(self) -> dict[str, int]:
        ge = t.graph_executions
        with self.read() as conn:
            rows = conn.execute(sa.select(ge.c.status, sa.func.count()).group_by(ge.c.status))
            return {status: int(count) for status, count in rows}

    def oldest_queued_at(self) -> float | None:
        ge = t.graph_executions
        query = sa.select(sa.func.min(ge.c.created_at)).where(ge.c.status == RunStatus.QUEUED)
        with self.read() as conn:
            oldest = conn.execute(query).scalar()
        return None if oldest is None else float(oldest)

    def run_stats(self, run_id: str) -> RunStats:
        c, u = t.run_node_counts, t.run_llm_usage
        with self.read() as conn:
            counts = conn.execute(sa.select(c).where(c.c.run_id == run_id)).all()
            usage = conn.execute(sa.select(u).where(u.c.run_id == run_id)).all()
        return RunStats(
            status_counts={r.status: int(r.executions) for r in counts if r.executions},
            attempts=sum(int(r.attempts) for r in counts),
            models={
                r.model: ModelUsage(int(r.input_tokens), int(r.output_tokens), int(r.llm_calls))
                for r in usage
            },
        )

    def node_duration_histograms(self) -> list[DurationHistogram]:
        d = t.node_durations
        with self.read() as conn:
            rows = conn.execute(sa.select(d).order_by(d.c.block_id, d.c.bucket)).all()
        per_block: dict[str, list[Any]] = {}
        for row in rows:
            per_block.setdefault(row.block_id, []).append(row)
        histograms = []
        for block_id, buckets in per_block.items():
            counts = [0] * (len(DURATION_BOUNDS) + 1)
            for row in buckets:
                counts[min(row.bucket, len(DURATION_BOUNDS))] += int(row.executions)
            cumulative = [sum(counts[: i + 1]) for i in range(len(DURATION_BOUNDS))]
            histograms.append(
                DurationHistogram(
                    block_id=block_id,
                    bucket_counts=tuple(cumulative),
                    count=sum(counts),
                    total_seconds=sum(float(row.total_seconds) for row in buckets),
                )
            )
        return histograms

    def llm_usage(self) -> list[dict[str, Any]]:
        u = t.llm_usage
        with self.read() as conn:
            rows = conn.execute(sa.select(u).order_by(u.c.provider, u.c.model))
            return [dict(row._asdict()) for row in rows]
