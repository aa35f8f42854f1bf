"""Claims: executors taking queued or lease-expired runs, fairly across users."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import sqlalchemy as sa

from backend.data import schema as t
from backend.data.execution import Event, NodeExecution, Run, RunStatus
from backend.data.sqlbase import SQLBase, event_row, to_node, to_run

# Claims look at this many of the oldest claimable runs when sharing them out fairly.
FAIRNESS_WINDOW = 1000


class ClaimsMixin(SQLBase):
    def claimable(self, now: float) -> sa.ColumnElement[bool]:
        ge = t.graph_executions
        return sa.or_(
            ge.c.status == RunStatus.QUEUED,
            sa.and_(ge.c.status == RunStatus.RUNNING, ge.c.lease_expires_at < now),
        )

    def has_claimable(self, now: float, exclude_users: Collection[str] = ()) -> bool:
        ge = t.graph_executions
        query = sa.select(ge.c.id).where(self.claimable(now))
        if exclude_users:
            query = query.where(ge.c.user_id.not_in(list(exclude_users)))
        with self.read() as conn:
            return conn.execute(query.limit(1)).first() is not None

    def claim_runs(
        self,
        owner: str,
        limit: int,
        now: float,
        lease_seconds: float,
        per_user: int | None = None,
        active: Mapping[str, int] | None = None,
    ) -> list[Run]:
        with self.write() as conn:
            return self._claim(conn, owner, limit, now, lease_seconds, per_user, active)

    def claim_runs_with_state(
        self,
        owner: str,
        limit: int,
        now: float,
        lease_seconds: float,
        per_user: int | None = None,
        active: Mapping[str, int] | None = None,
    ) -> list[tuple[Run, list[NodeExecution]]]:
        ne = t.node_executions
        with self.write() as conn:
            runs = self._claim(conn, owner, limit, now, lease_seconds, per_user, active)
            if not runs:
                return []
            # The claim holds the runs now: nobody else writes their nodes meanwhile.
            by_run: dict[str, list[NodeExecution]] = {run.id: [] for run in runs}
            rows = conn.execute(
                sa.select(ne).where(ne.c.run_id.in_(list(by_run))).order_by(ne.c.seq)
            )
            for row in rows:
                by_run[row.run_id].append(to_node(row))
            return [(run, by_run[run.id]) for run in runs]

    def _claim(
        self,
        conn: sa.Connection,
        owner: str,
        limit: int,
        now: float,
        lease_seconds: float,
        per_user: int | None,
        active: Mapping[str, int] | None,
    ) -> list[Run]:
        ge = t.graph_executions
        ids = self._fair_candidates(conn, limit, now, per_user, active or {})
        if ids:
            # Concurrent claimers pass over each other's rows instead of queueing
            # (PostgreSQL); SQLite renders nothing, its IMMEDIATE lock serialises.
            ids = list(
                conn.execute(
                    sa.select(ge.c.id)
                    .where(ge.c.id.in_(ids), self.claimable(now))
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
        if not ids:
            return []
        conn.execute(
            ge.update()
            .where(ge.c.id.in_(ids), self.claimable(now))
            .values(
                status=RunStatus.RUNNING,
                owner=owner,
                lease_expires_at=now + lease_seconds,
                started_at=sa.func.coalesce(ge.c.started_at, now),
                stalled_claims=ge.c.stalled_claims + 1,
            )
        )
        rows = conn.execute(
            sa.select(ge).where(ge.c.id.in_(ids), ge.c.owner == owner).order_by(ge.c.created_at)
        )
        runs = [to_run(row) for row in rows]
        if runs:
            # Tenants read events: which executor (host, pid) runs a run is not theirs.
            claimed = {"status": "RUNNING"}
            self._event_insert.execute(
                conn,
                [event_row(Event(r.id, "run_status", claimed, created_at=now)) for r in runs],
            )
        return runs

    def _fair_candidates(
        self,
        conn: sa.Connection,
        limit: int,
        now: float,
        per_user: int | None,
        active: Mapping[str, int],
    ) -> list[str]:
        """Up to ``limit`` claimable run ids, taking every user's oldest run before anyone's
        second (round robin by age), and at most ``per_user`` runs of a user counting the
        ``active`` ones this executor already has."""
        ge = t.graph_executions
        oldest = (
            sa.select(ge.c.id, ge.c.user_id, ge.c.created_at)
            .where(self.claimable(now))
            .order_by(ge.c.created_at)
            .limit(FAIRNESS_WINDOW)
            .subquery()
        )
        rank = (
            sa.func.row_number()
            .over(partition_by=oldest.c.user_id, order_by=(oldest.c.created_at, oldest.c.id))
            .label("rank")
        )
        ranked = sa.select(oldest.c.id, oldest.c.user_id, oldest.c.created_at, rank).subquery()
        query = sa.select(ranked.c.id, ranked.c.user_id).order_by(
            ranked.c.rank, ranked.c.created_at
        )
        if per_user is not None:
            query = query.where(ranked.c.rank <= per_user)
        taken: dict[str, int] = dict(active)
        ids: list[str] = []
        for row in conn.execute(query):
            if per_user is not None and taken.get(row.user_id, 0) >= per_user:
                continue
            taken[row.user_id] = taken.get(row.user_id, 0) + 1
            ids.append(row.id)
            if len(ids) == limit:
                break
        return ids
