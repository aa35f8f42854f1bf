"""Deleting expired runs with every row that belongs to them, in small transactions."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from backend.data import schema as t
from backend.data.execution import RunStatus
from backend.data.retention import PruneCounts
from backend.data.sqlbase import SQLBase

FINAL = [status.value for status in RunStatus if status.is_final]


def _expired(ended_before: float) -> sa.ColumnElement[bool]:
    """Ended before the cutoff, with no live parent and no live sub-agent run."""
    ge = t.graph_executions
    parent, child = ge.alias("parent"), ge.alias("child")
    return sa.and_(
        ge.c.status.in_(FINAL),
        ge.c.ended_at < ended_before,
        ~sa.exists().where(parent.c.id == ge.c.parent_run_id, parent.c.status.not_in(FINAL)),
        ~sa.exists().where(child.c.parent_run_id == ge.c.id, child.c.status.not_in(FINAL)),
    )


class RetentionMixin(SQLBase):
    def prune_runs(self, ended_before: float, max_runs: int, max_nodes: int) -> PruneCounts:
        ge, counts = t.graph_executions, t.run_node_counts
        with self.write() as conn:
            # Locked, and passed over by a concurrent prune (PostgreSQL); SQLite's
            # IMMEDIATE transaction already serialises writers.
            ids = list(
                conn.execute(
                    sa.select(ge.c.id)
                    .where(_expired(ended_before))
                    .order_by(ge.c.ended_at)
                    .limit(max_runs)
                    .with_for_update(skip_locked=True, of=ge)
                ).scalars()
            )
            if not ids:
                return PruneCounts()
            sizes = dict(
                conn.execute(
                    sa.select(counts.c.run_id, sa.func.sum(counts.c.executions))
                    .where(counts.c.run_id.in_(ids))
                    .group_by(counts.c.run_id)
                ).all()
            )
            return self._delete_runs(conn, _within(ids, sizes, max_nodes))

    def _delete_runs(self, conn: sa.Connection, ids: Sequence[str]) -> PruneCounts:
        ne, ev, f, chunks = t.node_executions, t.execution_events, t.files, t.file_chunks
        nodes = conn.execute(ne.delete().where(ne.c.run_id.in_(ids))).rowcount
        events = conn.execute(ev.delete().where(ev.c.run_id.in_(ids))).rowcount
        for table in (t.run_node_counts, t.run_llm_usage):
            conn.execute(table.delete().where(table.c.run_id.in_(ids)))
        their_files = sa.select(f.c.id).where(f.c.run_id.in_(ids))
        conn.execute(chunks.delete().where(chunks.c.file_id.in_(their_files)))
        files = conn.execute(f.delete().where(f.c.run_id.in_(ids))).rowcount
        ge = t.graph_executions
        runs = conn.execute(ge.delete().where(ge.c.id.in_(ids))).rowcount
        return PruneCounts(int(runs), int(nodes), int(events), int(files))

    def count_prunable(self, ended_before: float) -> PruneCounts:
        ge, counts, ev, f = t.graph_executions, t.run_node_counts, t.execution_events, t.files
        expired = sa.select(ge.c.id).where(_expired(ended_before))
        queries = (
            sa.select(sa.func.count()).select_from(ge).where(_expired(ended_before)),
            sa.select(sa.func.sum(counts.c.executions)).where(counts.c.run_id.in_(expired)),
            sa.select(sa.func.count()).select_from(ev).where(ev.c.run_id.in_(expired)),
            sa.select(sa.func.count()).select_from(f).where(f.c.run_id.in_(expired)),
        )
        with self.read() as conn:
            runs, nodes, events, files = (int(conn.execute(q).scalar() or 0) for q in queries)
        return PruneCounts(runs, nodes, events, files)


def _within(ids: Sequence[str], sizes: dict[str, int], max_nodes: int) -> list[str]:
    """The first of ``ids`` whose node executions add up to at most ``max_nodes``
    (always the first one, however big)."""
    kept: list[str] = []
    total = 0
    for run_id in ids:
        size = int(sizes.get(run_id, 0))
        if kept and total + size > max_nodes:
            break
        kept.append(run_id)
        total += size
    return kept
