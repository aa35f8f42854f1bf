"""Aggregates for the metrics endpoint, computed by the database at scrape time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from backend.data import schema as t
from backend.data.sqlbase import SQLBase
from backend.data.stats import DurationHistogram


class StatsMixin(SQLBase):
    def count_runs_by_status(self) -> dict[str, int]:
        ge = t.graph_executions
        with self.read() as conn:
            rows = conn.execute(sa.select(ge.c.status, sa.func.count()).group_by(ge.c.status))
            return {status: int(count) for status, count in rows}

    def node_duration_histograms(
        self, ended_since: float, bounds: Sequence[float]
    ) -> list[DurationHistogram]:
        ne = t.node_executions
        duration = ne.c.ended_at - ne.c.started_at
        buckets = [
            sa.func.sum(sa.case((duration <= bound, 1), else_=0)).label(f"le{i}")
            for i, bound in enumerate(bounds)
        ]
        query = (
            sa.select(
                ne.c.block_id,
                sa.func.count().label("n"),
                sa.func.sum(duration).label("total"),
                *buckets,
            )
            .where(ne.c.ended_at >= ended_since, ne.c.started_at.is_not(None))
            .group_by(ne.c.block_id)
            .order_by(ne.c.block_id)
        )
        with self.read() as conn:
            rows = conn.execute(query).all()
        return [
            DurationHistogram(
                block_id=row.block_id,
                bucket_counts=tuple(int(row[3 + i] or 0) for i in range(len(bounds))),
                count=int(row.n),
                total_seconds=float(row.total or 0.0),
            )
            for row in rows
        ]

    def llm_usage(self) -> list[dict[str, Any]]:
        u = t.llm_usage
        with self.read() as conn:
            rows = conn.execute(sa.select(u).order_by(u.c.provider, u.c.model))
            return [dict(row._asdict()) for row in rows]
