"""Claims: executors taking queued or lease-expired runs, fairly across users.

A claim is every run's fixed cost, so its statements are compiled once per store (per
number of runs claimed) and sent straight to the driver: one read of the candidates, one
UPDATE ... RETURNING that takes them and returns their rows, the claimed runs' events,
and (for an executor) their node executions, all in one transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import cached_property

import sqlalchemy as sa

from backend.data import schema as t
from backend.data.execution import Event, NodeExecution, Run, RunStatus
from backend.data.sqlbase import Query, SQLBase, decode_json, event_row, to_node, to_run

# Claims look at this many of the oldest claimable runs when sharing them out fairly.
FAIRNESS_WINDOW = 1000
# The candidates' rank filter when the claimer sets no per-user limit.
_NO_LIMIT = 2**31 - 1


def claimable(now: sa.ColumnElement[float] | float) -> sa.ColumnElement[bool]:
    ge = t.graph_executions
    return sa.or_(
        ge.c.status == RunStatus.QUEUED,
        sa.and_(ge.c.status == RunStatus.RUNNING, ge.c.lease_expires_at < now),
    )


def _ids(name: str, count: int) -> list[sa.BindParameter[str]]:
    return [sa.bindparam(f"{name}{i}") for i in range(count)]


class ClaimsMixin(SQLBase):
    def claimable(self, now: float) -> sa.ColumnElement[bool]:
        return claimable(now)

    def has_claimable(self, now: float, exclude_users: Collection[str] = ()) -> bool:
        users = sorted(set(exclude_users))
        params: dict[str, object] = {"now": now}
        params.update({f"u{i}": user for i, user in enumerate(users)})
        with self.read() as conn:
            return self._has_claimable(len(users)).execute(conn, params).first() is not None

    def _has_claimable(self, excluded: int) -> Query:
        return self._compiled(
            ("has_claimable", excluded), lambda: self._has_claimable_stmt(excluded)
        )

    def _has_claimable_stmt(self, excluded: int) -> sa.Select[tuple[str]]:
        ge = t.graph_executions
        query = sa.select(ge.c.id).where(claimable(sa.bindparam("now")))
        if excluded:
            query = query.where(ge.c.user_id.not_in(_ids("u", excluded)))
        return query.limit(1)

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
        with self.write() as conn:
            runs = self._claim(conn, owner, limit, now, lease_seconds, per_user, active)
            if not runs:
                return []
            # The claim holds the runs now: nobody else writes their nodes meanwhile.
            by_run: dict[str, list[NodeExecution]] = {run.id: [] for run in runs}
            query = self._compiled(("nodes_of", len(runs)), lambda: self._nodes_of(len(runs)))
            params = {f"r{i}": run_id for i, run_id in enumerate(by_run)}
            for row in query.execute(conn, params):
                data = decode_json(row._asdict(), self._text_json(t.node_executions))
                by_run[data["run_id"]].append(to_node(data))
            return [(run, by_run[run.id]) for run in runs]

    def _nodes_of(self, runs: int) -> sa.Select[tuple[object, ...]]:
        ne = t.node_executions
        return sa.select(ne).where(ne.c.run_id.in_(_ids("r", runs))).order_by(ne.c.seq)

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
        ids = self._fair_candidates(conn, limit, now, per_user, active or {})
        if not ids:
            return []
        params: dict[str, object] = {"now": now, "owner": owner, "lease": now + lease_seconds}
        params.update({f"c{i}": run_id for i, run_id in enumerate(ids)})
        take = self._compiled(("take", len(ids)), lambda: self._take(len(ids)))
        result = take.execute(conn, params)
        if self._returning:
            rows = result.all()
        else:
            # No UPDATE ... RETURNING (SQLite before 3.35): read what the update took.
            taken = self._compiled(("taken", len(ids)), lambda: self._taken(len(ids)))
            rows = taken.execute(conn, params).all()
        text_json = self._text_json(t.graph_executions)
        runs = sorted(
            (to_run(decode_json(row._asdict(), text_json)) for row in rows),
            key=lambda run: (run.created_at, run.id),
        )
        if runs:
            # Tenants read events: which executor (host, pid) runs a run is not theirs.
            claimed = {"status": "RUNNING"}
            self._event_insert.execute(
                conn,
                [event_row(Event(r.id, "run_status", claimed, created_at=now)) for r in runs],
            )
        return runs

    def _take(self, count: int) -> sa.Update:
        """Claim the candidates that are still claimable. PostgreSQL locks them first
        with SKIP LOCKED, so concurrent claimers pass over each other's rows instead of
        queueing; SQLite renders no lock, its IMMEDIATE transaction serialises."""
        ge = t.graph_executions
        now = sa.bindparam("now", type_=sa.Float)
        locked = (
            sa.select(ge.c.id)
            .where(ge.c.id.in_(_ids("c", count)), claimable(now))
            .with_for_update(skip_locked=True)
        )
        stmt = (
            ge.update()
            .where(ge.c.id.in_(locked.scalar_subquery()), claimable(now))
            .values(
                status=RunStatus.RUNNING.value,
                owner=sa.bindparam("owner"),
                lease_expires_at=sa.bindparam("lease"),
                started_at=sa.func.coalesce(ge.c.started_at, now),
                stalled_claims=ge.c.stalled_claims + 1,
            )
        )
        return stmt.returning(*ge.c) if self._returning else stmt

    def _taken(self, count: int) -> sa.Select[tuple[object, ...]]:
        ge = t.graph_executions
        return sa.select(ge).where(
            ge.c.id.in_(_ids("c", count)), ge.c.owner == sa.bindparam("owner")
        )

    @cached_property
    def _returning(self) -> bool:
        return bool(self.engine.dialect.update_returning)

    @cached_property
    def _candidates(self) -> Query:
        ge = t.graph_executions
        oldest = (
            sa.select(ge.c.id, ge.c.user_id, ge.c.created_at)
            .where(claimable(sa.bindparam("now")))
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
        query = (
            sa.select(ranked.c.id, ranked.c.user_id)
            .where(ranked.c.rank <= sa.bindparam("per_user"))
            .order_by(ranked.c.rank, ranked.c.created_at)
        )
        return Query(self.engine, query)

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
        rank = _NO_LIMIT if per_user is None else per_user
        taken: dict[str, int] = dict(active)
        ids: list[str] = []
        for row in self._candidates.execute(conn, {"now": now, "per_user": rank}):
            run_id, user_id = row.id, row.user_id
            if per_user is not None and taken.get(user_id, 0) >= per_user:
                continue
            taken[user_id] = taken.get(user_id, 0) + 1
            ids.append(run_id)
            if len(ids) == limit:
                break
        return ids
