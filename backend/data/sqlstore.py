"""The Store implemented once in SQLAlchemy Core; drivers add engine set-up and locking."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from backend.data import schema as t
from backend.data.execution import (
    Event,
    ExecutorInfo,
    NodeExecution,
    NodeStatus,
    Run,
    RunStatus,
    run_sources,
)
from backend.data.store import Store
from backend.errors import Conflict, LeaseLost, NotFound, SchemaError, StoreError

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def dumps(value: Any) -> str:
    # Block outputs may hold objects JSON cannot express; store their text form.
    return json.dumps(value, default=str)


def alembic_config(connection: sa.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


class SQLStore(Store):
    def __init__(self, engine: sa.Engine, url_for_errors: str) -> None:
        self.engine = engine
        self.url = url_for_errors
        # Built once: statement construction costs more than SQLite's own work here.
        self._node_upsert = self.node_upsert()

    # -- lifecycle ---------------------------------------------------------------------

    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        """Held while the schema is checked and upgraded; drivers make it cross-process."""
        yield

    def prepare(self, auto_migrate: bool) -> None:
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        with self.migration_lock():
            current = self.schema_revision()
            self._check_known(current)
            if current == head:
                return
            if not auto_migrate:
                raise SchemaError(
                    f"database schema is at revision {current or 'none'}, this code needs "
                    f"{head}; run `agent-server migrate` or set BACKEND_AUTO_MIGRATE=true"
                )
            with self.engine.begin() as conn:
                command.upgrade(alembic_config(conn), "head")
            logger.info("database schema upgraded from %s to %s", current or "empty", head)

    def schema_revision(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        except sa.exc.DBAPIError as exc:
            raise StoreError(
                f"cannot open database BACKEND_DATABASE_URL={self.url!r}: {exc.orig}"
            ) from None

    def _check_known(self, revision: str | None) -> None:
        if revision is None:
            return
        try:
            ScriptDirectory.from_config(alembic_config()).get_revision(revision)
        except CommandError:
            raise SchemaError(
                f"database schema revision {revision!r} is newer than this code knows "
                f"(BACKEND_DATABASE_URL={self.url!r}); upgrade agent-server"
            ) from None

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(readonly=True)
            with conn.begin():
                yield conn

    # -- executors -----------------------------------------------------------------------

    def register_executor(self, info: ExecutorInfo) -> None:
        with self.write() as conn:
            conn.execute(
                t.executors.insert().values(
                    id=info.id,
                    host=info.host,
                    pid=info.pid,
                    state=info.state,
                    started_at=info.started_at,
                    heartbeat_at=info.heartbeat_at,
                )
            )

    def heartbeat(self, executor_id: str, now: float, lease_seconds: float) -> dict[str, bool]:
        ge = t.graph_executions
        with self.write() as conn:
            conn.execute(
                t.executors.update().where(t.executors.c.id == executor_id).values(heartbeat_at=now)
            )
            conn.execute(
                ge.update()
                .where(ge.c.owner == executor_id, ge.c.status == RunStatus.RUNNING)
                .values(lease_expires_at=now + lease_seconds)
            )
            rows = conn.execute(
                sa.select(ge.c.id, ge.c.cancel_requested).where(
                    ge.c.owner == executor_id, ge.c.status == RunStatus.RUNNING
                )
            )
            return {row.id: bool(row.cancel_requested) for row in rows}

    def deregister_executor(self, executor_id: str, now: float) -> None:
        with self.write() as conn:
            conn.execute(
                t.executors.update()
                .where(t.executors.c.id == executor_id)
                .values(state="STOPPED", stopped_at=now)
            )

    def list_executors(self) -> list[ExecutorInfo]:
        with self.read() as conn:
            rows = conn.execute(sa.select(t.executors).order_by(t.executors.c.started_at))
            return [ExecutorInfo(**row._asdict()) for row in rows]

    def reap_dead_executors(self, host: str, alive: set[int], now: float) -> list[str]:
        ex, ge = t.executors, t.graph_executions
        with self.write() as conn:
            rows = conn.execute(
                sa.select(ex.c.id, ex.c.pid).where(ex.c.host == host, ex.c.state == "RUNNING")
            ).all()
            dead = [row.id for row in rows if row.pid not in alive]
            if dead:
                conn.execute(
                    ex.update().where(ex.c.id.in_(dead)).values(state="GONE", stopped_at=now)
                )
                conn.execute(
                    ge.update()
                    .where(ge.c.owner.in_(dead), ge.c.status == RunStatus.RUNNING)
                    .values(lease_expires_at=now)
                )
            return dead

    # -- graphs ----------------------------------------------------------------------------

    def save_graph(self, user_id: str, graph: dict[str, Any], now: float) -> int:
        g = t.graphs
        with self.write() as conn:
            owner = conn.execute(
                sa.select(g.c.user_id).where(g.c.id == graph["id"]).limit(1)
            ).scalar()
            if owner is not None and owner != user_id:
                raise NotFound(f"graph {graph['id']} not found")
            latest = conn.execute(
                sa.select(sa.func.max(g.c.version)).where(g.c.id == graph["id"])
            ).scalar()
            version = (latest or 0) + 1
            conn.execute(g.update().where(g.c.id == graph["id"]).values(is_active=False))
            conn.execute(
                g.insert().values(
                    id=graph["id"],
                    version=version,
                    user_id=user_id,
                    name=graph.get("name", ""),
                    is_active=True,
                    deleted=False,
                    data={**graph, "version": version},
                    created_at=now,
                )
            )
            return version

    def get_graph(self, user_id: str, graph_id: str, version: int | None = None) -> dict[str, Any]:
        g = t.graphs
        query = sa.select(g.c.data).where(
            g.c.id == graph_id, g.c.user_id == user_id, g.c.deleted.is_(False)
        )
        if version is None:
            query = query.where(g.c.is_active.is_(True))
        else:
            query = query.where(g.c.version == version)
        with self.read() as conn:
            data = conn.execute(query).scalar()
        if data is None:
            suffix = f" version {version}" if version is not None else ""
            raise NotFound(f"graph {graph_id}{suffix} not found")
        return dict(data)

    # -- runs --------------------------------------------------------------------------------

    def submit_run(self, run: Run, starting: Sequence[NodeExecution], event: Event) -> None:
        with self.write() as conn:
            conn.execute(t.graph_executions.insert().values(**_run_row(run)))
            if starting:
                conn.execute(t.node_executions.insert(), [_node_row(ne) for ne in starting])
            conn.execute(t.execution_events.insert().values(**_event_row(event)))

    def claimable(self, now: float) -> sa.ColumnElement[bool]:
        ge = t.graph_executions
        return sa.or_(
            ge.c.status == RunStatus.QUEUED,
            sa.and_(ge.c.status == RunStatus.RUNNING, ge.c.lease_expires_at < now),
        )

    def claim_runs(self, owner: str, limit: int, now: float, lease_seconds: float) -> list[Run]:
        ge = t.graph_executions
        with self.write() as conn:
            ids = list(
                conn.execute(
                    sa.select(ge.c.id)
                    .where(self.claimable(now))
                    .order_by(ge.c.created_at)
                    .limit(limit)
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
                )
            )
            rows = conn.execute(sa.select(ge).where(ge.c.id.in_(ids), ge.c.owner == owner))
            runs = [_run(row) for row in rows]
            if runs:
                conn.execute(
                    t.execution_events.insert(),
                    [
                        _event_row(Event(r.id, "run_status", {"status": "RUNNING"}, created_at=now))
                        for r in runs
                    ],
                )
            return runs

    def get_run(self, run_id: str) -> Run:
        with self.read() as conn:
            row = conn.execute(
                sa.select(t.graph_executions).where(t.graph_executions.c.id == run_id)
            ).first()
        if row is None:
            raise NotFound(f"run {run_id} not found")
        return _run(row)

    def list_runs(
        self,
        user_id: str | None = None,
        graph_id: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        before: tuple[float, str] | None = None,
    ) -> list[Run]:
        ge = t.graph_executions
        query = sa.select(ge).order_by(ge.c.created_at.desc(), ge.c.id.desc()).limit(limit)
        if user_id is not None:
            query = query.where(ge.c.user_id == user_id)
        if graph_id is not None:
            query = query.where(ge.c.graph_id == graph_id)
        if status is not None:
            query = query.where(ge.c.status == status)
        if before is not None:
            query = query.where(sa.tuple_(ge.c.created_at, ge.c.id) < sa.tuple_(*before))
        with self.read() as conn:
            return [_run(row) for row in conn.execute(query)]

    def node_executions(self, run_id: str) -> list[NodeExecution]:
        ne = t.node_executions
        with self.read() as conn:
            rows = conn.execute(sa.select(ne).where(ne.c.run_id == run_id).order_by(ne.c.seq))
            return [_node(row) for row in rows]

    def events(self, run_id: str, after_id: int = 0, limit: int = 1000) -> list[Event]:
        ev = t.execution_events
        with self.read() as conn:
            rows = conn.execute(
                sa.select(ev)
                .where(ev.c.run_id == run_id, ev.c.id > after_id)
                .order_by(ev.c.id)
                .limit(limit)
            )
            return [Event(row.run_id, row.type, row.data, row.id, row.created_at) for row in rows]

    def _fence(self, conn: sa.Connection, owner: str, run_id: str, lease_until: float) -> None:
        result = conn.execute(_FENCE, {"rid": run_id, "own": owner, "lease": lease_until})
        if result.rowcount != 1:
            raise LeaseLost(f"run {run_id} is no longer owned by executor {owner}")

    def node_upsert(self) -> sa.Executable:
        """INSERT ... ON CONFLICT (id) DO UPDATE for node executions (dialect-specific)."""
        raise NotImplementedError

    def save_node_executions(
        self,
        owner: str,
        run_id: str,
        changed: Sequence[NodeExecution],
        events: Sequence[Event],
        now: float,
        lease_seconds: float,
    ) -> None:
        with self.write() as conn:
            self._fence(conn, owner, run_id, now + lease_seconds)
            if changed:
                conn.execute(self._node_upsert, [_node_row(n) for n in changed])
            if events:
                conn.execute(_EVENT_INSERT, [_event_row(e) for e in events])

    def finish_run(self, owner: str, run: Run, events: Sequence[Event], now: float) -> None:
        ge = t.graph_executions
        with self.write() as conn:
            self._fence(conn, owner, run.id, now)
            conn.execute(
                ge.update()
                .where(ge.c.id == run.id)
                .values(
                    status=run.status,
                    outputs=run.outputs,
                    error=run.error,
                    ended_at=now,
                    owner=None,
                    lease_expires_at=None,
                )
            )
            if events:
                conn.execute(t.execution_events.insert(), [_event_row(e) for e in events])

    def release_run(self, owner: str, run_id: str, event: Event) -> None:
        ge = t.graph_executions
        with self.write() as conn:
            conn.execute(
                ge.update()
                .where(ge.c.id == run_id, ge.c.owner == owner, ge.c.status == RunStatus.RUNNING)
                .values(status=RunStatus.QUEUED, owner=None, lease_expires_at=None)
            )
            conn.execute(t.execution_events.insert().values(**_event_row(event)))

    def request_cancel(self, run_id: str, now: float) -> Run:
        ge, ne = t.graph_executions, t.node_executions
        with self.write() as conn:
            row = conn.execute(sa.select(ge).where(ge.c.id == run_id)).first()
            if row is None:
                raise NotFound(f"run {run_id} not found")
            run = _run(row)
            if run.status.is_final:
                raise Conflict(f"run {run_id} already ended {run.status.value}")
            conn.execute(ge.update().where(ge.c.id == run_id).values(cancel_requested=True))
            if run.status in run_sources(RunStatus.TERMINATED) and run.owner is None:
                # Nobody runs it: terminate here rather than wait for a claim.
                conn.execute(
                    ge.update()
                    .where(ge.c.id == run_id, ge.c.owner.is_(None))
                    .values(status=RunStatus.TERMINATED, ended_at=now)
                )
                conn.execute(
                    ne.update()
                    .where(
                        ne.c.run_id == run_id,
                        ne.c.status.in_([NodeStatus.QUEUED, NodeStatus.INCOMPLETE]),
                    )
                    .values(status=NodeStatus.TERMINATED, ended_at=now)
                )
                conn.execute(
                    t.execution_events.insert().values(
                        **_event_row(
                            Event(run_id, "run_status", {"status": "TERMINATED"}, created_at=now)
                        )
                    )
                )
            row = conn.execute(sa.select(ge).where(ge.c.id == run_id)).first()
            assert row is not None
            return _run(row)


_FENCE = (
    t.graph_executions.update()
    .where(
        t.graph_executions.c.id == sa.bindparam("rid"),
        t.graph_executions.c.owner == sa.bindparam("own"),
        t.graph_executions.c.status == RunStatus.RUNNING.value,
    )
    .values(lease_expires_at=sa.bindparam("lease"))
)
_EVENT_INSERT = t.execution_events.insert()


def _run_row(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "graph_id": run.graph_id,
        "graph_version": run.graph_version,
        "user_id": run.user_id,
        "status": run.status.value,
        "inputs": run.inputs,
        "outputs": run.outputs,
        "error": run.error,
        "owner": run.owner,
        "lease_expires_at": run.lease_expires_at,
        "cancel_requested": run.cancel_requested,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "deadline_at": run.deadline_at,
    }


def _run(row: sa.Row[Any]) -> Run:
    data = row._asdict()
    data["status"] = RunStatus(data["status"])
    data["cancel_requested"] = bool(data["cancel_requested"])
    return Run(**data)


def _node_row(n: NodeExecution) -> dict[str, Any]:
    return {
        "id": n.id,
        "run_id": n.run_id,
        "seq": n.seq,
        "node_id": n.node_id,
        "block_id": n.block_id,
        "status": n.status.value,
        "input_data": n.input_data,
        "output_data": [list(pair) for pair in n.output_data],
        "attempt": n.attempt,
        "error": n.error,
        "created_at": n.created_at,
        "started_at": n.started_at,
        "ended_at": n.ended_at,
    }


def _node(row: sa.Row[Any]) -> NodeExecution:
    data = row._asdict()
    data["status"] = NodeStatus(data["status"])
    data["output_data"] = [(pin, value) for pin, value in data["output_data"]]
    return NodeExecution(**data)


def _event_row(e: Event) -> dict[str, Any]:
    return {"run_id": e.run_id, "type": e.type, "data": e.data, "created_at": e.created_at}
