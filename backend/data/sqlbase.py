"""What every SQL store shares: the engine, read and write transactions, row mapping."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import Enum
from typing import Any

import sqlalchemy as sa

from backend.data import schema as t
from backend.data.execution import Event, NodeExecution, NodeStatus, Run, RunStatus
from backend.util import finite_json

FENCE = (
    t.graph_executions.update()
    .where(
        t.graph_executions.c.id == sa.bindparam("rid"),
        t.graph_executions.c.owner == sa.bindparam("own"),
        t.graph_executions.c.status == sa.bindparam("st"),
    )
    .values(
        lease_expires_at=sa.bindparam("lease"),
        # A write that finishes a node is progress: the run is not stuck (poison check).
        stalled_claims=sa.case(
            (sa.bindparam("progress", type_=sa.Boolean), sa.literal_column("0")),
            else_=t.graph_executions.c.stalled_claims,
        ),
    )
)
NODE_COLUMNS = [c.name for c in t.node_executions.c]
RUN_COLUMNS = [c.name for c in t.graph_executions.c]
EVENT_COLUMNS = ["run_id", "type", "data", "created_at"]


def dumps(value: Any) -> str:
    # Block outputs may hold objects JSON cannot express (stored as their text form) and
    # non-finite numbers (stored as null, on every driver: PostgreSQL's json type has no
    # NaN or Infinity, and a REST answer shows null).
    return finite_json.compact_dumps(value)


class Prepared:
    """A statement compiled once for one engine and sent straight to the driver.

    The per-node writes are the hot path of every run; SQLAlchemy's per-call statement
    handling cost more than SQLite's own work there. JSON columns are serialised here
    with the engine's own serializer, since the driver sees plain text.
    """

    def __init__(
        self,
        engine: sa.Engine,
        stmt: sa.Insert | sa.Update,
        columns: list[str],
        json_dumps: Callable[[Any], str],
    ) -> None:
        compiled = stmt.compile(dialect=engine.dialect, column_keys=columns)
        self.sql = str(compiled)
        self.order = compiled.positiontup  # None where the driver takes named parameters
        table = stmt.table.c
        self.json = {c for c in columns if c in table and isinstance(table[c].type, sa.JSON)}
        self.dumps = json_dumps

    def execute(self, conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> sa.CursorResult[Any]:
        params = [self._params(row) for row in rows]
        return conn.exec_driver_sql(self.sql, params if len(params) > 1 else params[0])

    def _params(self, row: dict[str, Any]) -> Any:
        values = {k: self.dumps(v) if k in self.json else v for k, v in row.items()}
        return tuple(values[k] for k in self.order) if self.order is not None else values


class Query:
    """Any statement (a SELECT, an UPDATE ... RETURNING) compiled once for one engine and
    sent straight to the driver: a submit's reads, the claim's and the run end's
    statements, each run's fixed cost. ``params`` name the statement's bind parameters and
    come out as the driver wants them (positional on SQLite, named on PostgreSQL); values
    compiled into it (status names, limits) are its own. JSON values come back as the
    driver gives them: ``json_columns`` decodes them where the driver leaves text (SQLite)."""

    def __init__(self, engine: sa.Engine, stmt: sa.ClauseElement) -> None:
        compiled: Any = stmt.compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self.order = compiled.positiontup
        self.defaults = {k: _plain(v) for k, v in compiled.params.items()}

    def params(self, values: dict[str, Any]) -> Any:
        merged = {**self.defaults, **values}
        return tuple(merged[k] for k in self.order) if self.order is not None else merged

    def execute(self, conn: sa.Connection, params: dict[str, Any]) -> sa.CursorResult[Any]:
        return conn.exec_driver_sql(self.sql, self.params(params))


def _plain(value: Any) -> Any:
    # A status compiled into a statement is an Enum; drivers take its text.
    return value.value if isinstance(value, Enum) else value


def json_columns(table: sa.Table) -> list[str]:
    return [c.name for c in table.c if isinstance(c.type, sa.JSON)]


def decode_json(data: dict[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    """A driver row's JSON columns as values: SQLite returns their text, psycopg has
    already decoded them (with the same json module)."""
    for name in columns:
        value = data[name]
        if isinstance(value, str):
            data[name] = json.loads(value)
    return data


class SQLBase:
    def __init__(
        self, engine: sa.Engine, url_for_errors: str, json_dumps: Callable[[Any], str]
    ) -> None:
        """``json_dumps`` must be the serializer ``engine`` was created with."""
        self.engine = engine
        self.url = url_for_errors
        self._json_dumps = json_dumps
        self._node_upsert = Prepared(engine, self.node_upsert(), NODE_COLUMNS, json_dumps)
        self._event_insert = Prepared(
            engine, t.execution_events.insert(), EVENT_COLUMNS, json_dumps
        )
        # A submit writes a run, its first nodes and an event: the API's hot path.
        self._run_insert = Prepared(engine, t.graph_executions.insert(), RUN_COLUMNS, json_dumps)
        self._node_insert = Prepared(engine, t.node_executions.insert(), NODE_COLUMNS, json_dumps)
        self._fence_update = Prepared(
            engine, FENCE, ["rid", "own", "st", "lease", "progress"], json_dumps
        )
        self._queries: dict[tuple[str, int], Query] = {}
        # SQLite hands JSON columns back as text; psycopg decodes them itself.
        self._json_as_text = engine.dialect.name == "sqlite"

    def _compiled(self, key: tuple[str, int], build: Callable[[], sa.ClauseElement]) -> Query:
        """The statement ``key`` names (e.g. a claim of 3 runs), compiled on first use.
        Keys are bounded by the settings (runs claimed at once), so the cache is too."""
        query = self._queries.get(key)
        if query is None:
            query = self._queries[key] = Query(self.engine, build())
        return query

    def _text_json(self, table: sa.Table) -> list[str]:
        """The JSON columns of ``table`` that a driver row holds as text."""
        return json_columns(table) if self._json_as_text else []

    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT, which has ``on_conflict_do_update`` (drivers set it)."""
        raise NotImplementedError

    def node_upsert(self) -> sa.Insert:
        """INSERT ... ON CONFLICT (id) DO UPDATE for node executions."""
        stmt = self.insert(t.node_executions)
        upsert: sa.Insert = stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={c.name: stmt.excluded[c.name] for c in t.node_executions.c if c.name != "id"},
        )
        return upsert

    def notify(self, conn: sa.Connection, kind: str) -> None:
        """Wake idle executors once ``conn``'s transaction commits (``kind``: "run" or
        "cancel"). A no-op where the database cannot push; executors poll there."""

    def lock_scope(self, conn: sa.Connection, scope: str) -> None:
        """Serialise, until ``conn``'s transaction ends, the writers that name ``scope``
        (e.g. the submits of one webhook). A no-op where writers are serialised anyway."""

    def reclaim_space(self) -> None:
        """A no-op where the database returns freed space itself (PostgreSQL's autovacuum
        makes it reusable)."""

    def is_disconnect(self, exc: BaseException) -> bool:
        return isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated

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


def run_row(run: Run) -> dict[str, Any]:
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
        "stalled_claims": run.stalled_claims,
        "credentials": run.credentials,
        "max_tokens": run.max_tokens,
        "parent_run_id": run.parent_run_id,
        "parent_node_exec_id": run.parent_node_exec_id,
        "depth": run.depth,
        "request_id": run.request_id,
        "traceparent": run.traceparent,
    }


def to_run(row: sa.Row[Any] | dict[str, Any]) -> Run:
    data = row if isinstance(row, dict) else row._asdict()
    data["status"] = RunStatus(data["status"])
    data["cancel_requested"] = bool(data["cancel_requested"])
    data["credentials"] = data["credentials"] or {}
    return Run(**data)


def to_node(row: sa.Row[Any] | dict[str, Any]) -> NodeExecution:
    data = row if isinstance(row, dict) else row._asdict()
    data["status"] = NodeStatus(data["status"])
    data["output_data"] = [(pin, value) for pin, value in data["output_data"]]
    data["stats"] = data["stats"] or {}
    return NodeExecution(**data)


def event_row(e: Event) -> dict[str, Any]:
    return {"run_id": e.run_id, "type": e.type, "data": e.data, "created_at": e.created_at}
