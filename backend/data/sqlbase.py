"""What every SQL store shares: the engine, read and write transactions, row mapping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from backend.data.execution import Event, NodeExecution, NodeStatus, Run, RunStatus


def dumps(value: Any) -> str:
    # Block outputs may hold objects JSON cannot express; store their text form.
    return json.dumps(value, default=str)


class SQLBase:
    def __init__(self, engine: sa.Engine, url_for_errors: str) -> None:
        self.engine = engine
        self.url = url_for_errors
        # Built once: statement construction costs more than SQLite's own work here.
        self._node_upsert = self.node_upsert()

    def node_upsert(self) -> sa.Executable:
        """INSERT ... ON CONFLICT (id) DO UPDATE for node executions (dialect-specific)."""
        raise NotImplementedError

    def notify(self, conn: sa.Connection, kind: str) -> None:
        """Wake idle executors once ``conn``'s transaction commits (``kind``: "run" or
        "cancel"). A no-op where the database cannot push; executors poll there."""

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
    }


def to_run(row: sa.Row[Any]) -> Run:
    data = row._asdict()
    data["status"] = RunStatus(data["status"])
    data["cancel_requested"] = bool(data["cancel_requested"])
    return Run(**data)


def node_row(n: NodeExecution) -> dict[str, Any]:
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


def to_node(row: sa.Row[Any]) -> NodeExecution:
    data = row._asdict()
    data["status"] = NodeStatus(data["status"])
    data["output_data"] = [(pin, value) for pin, value in data["output_data"]]
    return NodeExecution(**data)


def event_row(e: Event) -> dict[str, Any]:
    return {"run_id": e.run_id, "type": e.type, "data": e.data, "created_at": e.created_at}
