"""Sub-agent runs: started once per parent node execution, found again after a crash."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import sqlalchemy as sa

from backend.data import schema as t
from backend.data.execution import Event, NodeExecution, Run
from backend.data.sql_runs import FINAL_STATUSES, RunsMixin
from backend.data.sqlbase import to_run


class ChildrenMixin(RunsMixin):
    def start_child_run(self, run: Run, starting: Sequence[NodeExecution], event: Event) -> Run:
        ge = t.graph_executions
        with self.write() as conn:
            # FOR UPDATE: two executors re-running the same parent node wait for each other
            # here, so the second finds the first one's child (SQLite: its write lock).
            row = conn.execute(sa.select(ge).where(ge.c.id == run.id).with_for_update()).first()
            if row is not None:
                return to_run(row)
            self._insert_run(conn, run, starting, event)
            return run

    def ended_runs(self, run_ids: Collection[str]) -> list[Run]:
        if not run_ids:
            return []
        ge = t.graph_executions
        with self.read() as conn:
            rows = conn.execute(
                sa.select(ge).where(ge.c.id.in_(list(run_ids)), ge.c.status.in_(FINAL_STATUSES))
            )
            return [to_run(row) for row in rows]
