"""The Store implemented once in SQLAlchemy Core; drivers add engine set-up and locking."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from backend.data import schema as t
from backend.data.execution import ExecutorInfo, RunStatus
from backend.data.graph import content_hash
from backend.data.sql_auth import AuthMixin
from backend.data.sql_children import ChildrenMixin
from backend.data.sql_credentials import CredentialsMixin
from backend.data.sql_events import EventsMixin
from backend.data.sql_files import FilesMixin
from backend.data.sql_hooks import HooksMixin
from backend.data.sql_kv import KeyValueMixin
from backend.data.sql_retention import RetentionMixin
from backend.data.sql_schedules import SchedulesMixin
from backend.data.sql_stats import StatsMixin
from backend.data.sqlbase import Query
from backend.data.store import Store
from backend.errors import NotFound, SchemaError, StoreError

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# A save that lost a race for a graph's first version retries behind the winner's lock.
SAVE_GRAPH_ATTEMPTS = 3


def alembic_config(connection: sa.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


class SQLStore(
    ChildrenMixin,
    KeyValueMixin,
    AuthMixin,
    CredentialsMixin,
    FilesMixin,
    SchedulesMixin,
    HooksMixin,
    StatsMixin,
    RetentionMixin,
    EventsMixin,
    Store,
):
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

    def schema_is_current(self) -> bool:
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        return self.schema_revision() == head

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
        # Concurrent saves of one graph are serialised by locking its existing rows; two
        # first saves have nothing to lock, so one of them hits the primary key once the
        # other commits, and tries again behind the lock.
        for _ in range(SAVE_GRAPH_ATTEMPTS - 1):
            with suppress(sa.exc.IntegrityError):
                return self._save_graph(user_id, graph, now)
        return self._save_graph(user_id, graph, now)

    def _save_graph(self, user_id: str, graph: dict[str, Any], now: float) -> int:
        g = t.graphs
        with self.write() as conn:
            # FOR UPDATE waits for a concurrent save of this graph to commit (SQLite
            # renders nothing: its IMMEDIATE transaction already serialises writers).
            owners = conn.execute(
                sa.select(g.c.user_id).where(g.c.id == graph["id"]).with_for_update()
            ).scalars()
            if any(owner != user_id for owner in owners):
                raise NotFound(f"graph {graph['id']} not found")
            # A statement of its own: under READ COMMITTED it sees the version that the
            # save we waited for has just committed.
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
                    content_hash=content_hash(graph),
                )
            )
            return version

    def find_graph(self, user_id: str, digest: str) -> dict[str, Any] | None:
        g = t.graphs
        query = (
            sa.select(g.c.data)
            .where(
                g.c.user_id == user_id,
                g.c.content_hash == digest,
                g.c.is_active.is_(True),
                g.c.deleted.is_(False),
            )
            .order_by(g.c.created_at)
            .limit(1)
        )
        with self.read() as conn:
            data = conn.execute(query).scalar()
        return None if data is None else dict(data)

    def get_graph(self, user_id: str, graph_id: str, version: int | None = None) -> dict[str, Any]:
        g = t.graphs
        query = sa.select(g.c.data).where(g.c.id == graph_id, g.c.user_id == user_id)
        if version is None:
            query = query.where(g.c.is_active.is_(True), g.c.deleted.is_(False))
        else:
            query = query.where(g.c.version == version)
        with self.read() as conn:
            data = conn.execute(query).scalar()
        if data is None:
            suffix = f" version {version}" if version is not None else ""
            raise NotFound(f"graph {graph_id}{suffix} not found")
        return dict(data)

    def graph_version(self, user_id: str, graph_id: str) -> int:
        row = self.read_row(self._active_version, graph_id=graph_id, user_id=user_id)
        if row is None:
            raise NotFound(f"graph {graph_id} not found")
        return int(row[0])

    @functools.cached_property
    def _active_version(self) -> Query:
        # Compiled once per store: building and caching the statement on each call cost
        # more than the query (it runs on every submit).
        g = t.graphs
        return Query(
            self.engine,
            sa.select(g.c.version).where(
                g.c.id == sa.bindparam("graph_id"),
                g.c.user_id == sa.bindparam("user_id"),
                g.c.is_active.is_(True),
                g.c.deleted.is_(False),
            ),
        )

    def list_graphs(
        self, user_id: str, limit: int = 50, before: tuple[float, str] | None = None
    ) -> list[dict[str, Any]]:
        g = t.graphs
        query = (
            sa.select(g.c.id, g.c.version, g.c.name, g.c.data, g.c.created_at)
            .where(g.c.user_id == user_id, g.c.is_active.is_(True), g.c.deleted.is_(False))
            .order_by(g.c.created_at.desc(), g.c.id.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(sa.tuple_(g.c.created_at, g.c.id) < sa.tuple_(*before))
        with self.read() as conn:
            rows = conn.execute(query).all()
        return [
            {
                "id": row.id,
                "version": row.version,
                "name": row.name,
                "description": row.data.get("description", ""),
                "created_at": row.created_at,
            }
            for row in rows
        ]

    def delete_graph(self, user_id: str, graph_id: str) -> None:
        g = t.graphs
        with self.write() as conn:
            result = conn.execute(
                g.update()
                .where(g.c.id == graph_id, g.c.user_id == user_id, g.c.deleted.is_(False))
                .values(deleted=True)
            )
            if result.rowcount == 0:
                raise NotFound(f"graph {graph_id} not found")

    # -- runs --------------------------------------------------------------------------------
