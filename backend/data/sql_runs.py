"""Runs, node executions and events: submission, claims, fenced writes, cancellation."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

import sqlalchemy as sa

from backend.data import schema as t
from backend.data.execution import (
    Event,
    NodeExecution,
    NodeStatus,
    Run,
    RunStatus,
    RunWrite,
    run_sources,
)
from backend.data.run_keys import RunKey
from backend.data.schedules import ScheduleAdvance
from backend.data.sql_claims import ClaimsMixin
from backend.data.sql_counters import Counters
from backend.data.sql_direct import DirectMixin
from backend.data.sql_run_keys import claim_run_key
from backend.data.sql_schedules import advance_schedule
from backend.data.sqlbase import Prepared, event_row, run_row, to_node, to_run
from backend.errors import Conflict, LeaseLost, NotFound, ScheduleMoved

_PROGRESS = frozenset({NodeStatus.COMPLETED, NodeStatus.FAILED})
FINAL_STATUSES = [status.value for status in RunStatus if status.is_final]


class RunsMixin(ClaimsMixin, DirectMixin):
    @cached_property
    def _counters(self) -> Counters:
        return Counters(self.engine, self.insert, self._json_dumps)

    @cached_property
    def _run_end(self) -> Prepared:
        ge = t.graph_executions
        stmt = (
            ge.update()
            .where(ge.c.id == sa.bindparam("rid"))
            .values(owner=sa.null(), lease_expires_at=sa.null())
        )
        columns = ["rid", "status", "outputs", "error", "ended_at"]
        return Prepared(self.engine, stmt, columns, self._json_dumps)

    def submit_run(
        self,
        run: Run,
        starting: Sequence[NodeExecution],
        event: Event,
        key: RunKey | None = None,
        advance: ScheduleAdvance | None = None,
    ) -> str:
        with self.write() as conn:
            earlier = None
            if key is not None:
                earlier = claim_run_key(conn, key, run.id, run.created_at, self.lock_scope)
            if advance is not None and not advance_schedule(conn, advance, earlier or run.id):
                raise ScheduleMoved(f"schedule {advance.schedule_id} changed; not fired")
            if earlier is not None:
                return earlier
            self._insert_run(conn, run, starting, event)
        return run.id

    def _insert_run(
        self,
        conn: sa.Connection,
        run: Run,
        starting: Sequence[NodeExecution],
        event: Event,
    ) -> None:
        # One batch on the driver's cursor (drivers may send it in one round trip).
        batches = [
            (self._run_insert, [run_row(run)]),
            (self._node_insert, [ne.to_dict() for ne in starting]),
            (self._event_insert, [event_row(event)]),
        ]
        self.insert_rows(conn, batches, wake="run")

    def get_run(self, run_id: str) -> Run:
        with self.read() as conn:
            row = conn.execute(
                sa.select(t.graph_executions).where(t.graph_executions.c.id == run_id)
            ).first()
        if row is None:
            raise NotFound(f"run {run_id} not found")
        return to_run(row)

    def list_runs(
        self,
        user_id: str | None = None,
        graph_id: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        before: tuple[float, str] | None = None,
        parent_run_id: str | None = None,
    ) -> list[Run]:
        ge = t.graph_executions
        query = sa.select(ge).order_by(ge.c.created_at.desc(), ge.c.id.desc()).limit(limit)
        if user_id is not None:
            query = query.where(ge.c.user_id == user_id)
        if parent_run_id is not None:
            query = query.where(ge.c.parent_run_id == parent_run_id)
        if graph_id is not None:
            query = query.where(ge.c.graph_id == graph_id)
        if status is not None:
            query = query.where(ge.c.status == status)
        if before is not None:
            query = query.where(sa.tuple_(ge.c.created_at, ge.c.id) < sa.tuple_(*before))
        with self.read() as conn:
            return [to_run(row) for row in conn.execute(query)]

    def node_executions(self, run_id: str) -> list[NodeExecution]:
        ne = t.node_executions
        with self.read() as conn:
            rows = conn.execute(sa.select(ne).where(ne.c.run_id == run_id).order_by(ne.c.seq))
            return [to_node(row) for row in rows]

    def node_executions_page(
        self,
        run_id: str,
        limit: int,
        after_seq: int | None = None,
        status: NodeStatus | None = None,
        node_id: str | None = None,
    ) -> list[NodeExecution]:
        ne = t.node_executions
        query = sa.select(ne).where(ne.c.run_id == run_id).order_by(ne.c.seq).limit(limit)
        if after_seq is not None:
            query = query.where(ne.c.seq > after_seq)
        if status is not None:
            query = query.where(ne.c.status == status)
        if node_id is not None:
            query = query.where(ne.c.node_id == node_id)
        with self.read() as conn:
            return [to_node(row) for row in conn.execute(query)]

    def _fence_row(
        self, owner: str, run_id: str, lease_until: float, progress: bool = False
    ) -> dict[str, Any]:
        return {
            "rid": run_id,
            "own": owner,
            "st": RunStatus.RUNNING.value,
            "lease": lease_until,
            "progress": progress,
        }

    def _owns(self, conn: sa.Connection, owner: str, run_id: str, lease_until: float) -> bool:
        """Renew the lease if ``owner`` still holds it; inside the writing transaction,
        so the rows that follow are written only under a valid lease."""
        return not self.fence_runs(conn, [self._fence_row(owner, run_id, lease_until)])

    def _fence(self, conn: sa.Connection, owner: str, run_id: str, lease_until: float) -> None:
        if not self._owns(conn, owner, run_id, lease_until):
            raise LeaseLost(f"run {run_id} is no longer owned by executor {owner}")

    def save_writes(
        self, owner: str, writes: Sequence[RunWrite], now: float, lease_seconds: float
    ) -> set[str]:
        if not writes:
            return set()
        progressed = {w.run_id for w in writes if any(n.status in _PROGRESS for n in w.changed)}
        fences = [
            self._fence_row(owner, run_id, now + lease_seconds, run_id in progressed)
            for run_id in dict.fromkeys(w.run_id for w in writes)
        ]
        with self.write() as conn:
            lost = self.fence_runs(conn, fences)
            kept = [w for w in writes if w.run_id not in lost]
            changed = [n for w in kept for n in w.changed]
            ended = [w.finish for w in kept if w.finish is not None]
            # One batch of statements (pipelined on PostgreSQL: one round trip).
            batches: list[tuple[Prepared, Any]] = [
                (self._node_upsert, [n.to_dict() for n in changed]),
                *self._counters.finished_batches(changed),
                (self._event_insert, [event_row(e) for w in kept for e in w.events]),
                (self._run_end, [self._run_end_row(run, now) for run in ended]),
            ]
            self.insert_rows(conn, batches)
            for run in ended:
                self._after_end(conn, run, now)
            return lost

    def fence_runs(self, conn: sa.Connection, fences: Sequence[dict[str, Any]]) -> set[str]:
        """Renew each fence's lease in ``conn``'s transaction; the runs whose lease was
        lost (not owned, not running), whose writes must then change nothing."""
        return {
            row["rid"] for row in fences if self._fence_update.execute(conn, [row]).rowcount != 1
        }

    def finish_run(self, owner: str, run: Run, events: Sequence[Event], now: float) -> None:
        with self.write() as conn:
            self._fence(conn, owner, run.id, now)
            if events:
                self._event_insert.execute(conn, [event_row(e) for e in events])
            self._run_end.execute(conn, [self._run_end_row(run, now)])
            self._after_end(conn, run, now)

    def _run_end_row(self, run: Run, now: float) -> dict[str, Any]:
        return {
            "rid": run.id,
            "status": run.status.value,
            "outputs": run.outputs,
            "error": run.error,
            "ended_at": now,
        }

    def _after_end(self, conn: sa.Connection, run: Run, now: float) -> None:
        """Under a fence already taken in ``conn``'s transaction, once ``run`` ended."""
        if run.status != RunStatus.COMPLETED:
            # A parent that failed or was cancelled leaves no sub-agent running.
            self._cancel_descendants(conn, run.id, now)
            self.notify(conn, "cancel")

    def release_run(self, owner: str, run_id: str, event: Event) -> None:
        ge = t.graph_executions
        with self.write() as conn:
            released = conn.execute(
                ge.update()
                .where(ge.c.id == run_id, ge.c.owner == owner, ge.c.status == RunStatus.RUNNING)
                .values(status=RunStatus.QUEUED, owner=None, lease_expires_at=None)
            )
            # Not the owner any more: nothing to hand back, and no event to tell of it.
            if released.rowcount == 1:
                conn.execute(t.execution_events.insert().values(**event_row(event)))
                self.notify(conn, "run")

    def request_cancel(self, run_id: str, now: float) -> Run:
        ge = t.graph_executions
        with self.write() as conn:
            row = conn.execute(sa.select(ge).where(ge.c.id == run_id)).first()
            if row is None:
                raise NotFound(f"run {run_id} not found")
            run = to_run(row)
            if run.status.is_final:
                raise Conflict(f"run {run_id} already ended {run.status.value}")
            self._cancel(conn, run, now)
            self._cancel_descendants(conn, run_id, now)
            self.notify(conn, "cancel")
            row = conn.execute(sa.select(ge).where(ge.c.id == run_id)).first()
            assert row is not None
            return to_run(row)

    def _cancel_descendants(self, conn: sa.Connection, run_id: str, now: float) -> None:
        """Its sub-agent runs, and theirs, end with it."""
        ge = t.graph_executions
        parents = [run_id]
        while parents:
            rows = conn.execute(
                sa.select(ge).where(
                    ge.c.parent_run_id.in_(parents), ge.c.status.not_in(FINAL_STATUSES)
                )
            ).all()
            for child in rows:
                self._cancel(conn, to_run(child), now)
            parents = [child.id for child in rows]

    def _cancel(self, conn: sa.Connection, run: Run, now: float) -> None:
        ge, ne = t.graph_executions, t.node_executions
        conn.execute(ge.update().where(ge.c.id == run.id).values(cancel_requested=True))
        if run.status not in run_sources(RunStatus.TERMINATED) or run.owner is not None:
            return  # its owner sees the flag at its next heartbeat
        # Nobody runs it: terminate here rather than wait for a claim. A claim that
        # committed since the run was read (PostgreSQL) keeps it: its executor sees the flag.
        terminated = conn.execute(
            ge.update()
            .where(
                ge.c.id == run.id,
                ge.c.owner.is_(None),
                ge.c.status.in_(run_sources(RunStatus.TERMINATED)),
            )
            .values(status=RunStatus.TERMINATED, ended_at=now)
        )
        if terminated.rowcount != 1:
            return
        conn.execute(
            ne.update()
            .where(
                ne.c.run_id == run.id,
                ne.c.status.in_([NodeStatus.QUEUED, NodeStatus.INCOMPLETE]),
            )
            .values(status=NodeStatus.TERMINATED, ended_at=now)
        )
        event = Event(run.id, "run_status", {"status": "TERMINATED"}, created_at=now)
        conn.execute(t.execution_events.insert().values(**event_row(event)))
