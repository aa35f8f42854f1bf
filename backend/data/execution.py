"""Run and node-execution records, their statuses, and the one place transitions are checked."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from backend.errors import Conflict


class RunStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    TERMINATED = "TERMINATED"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_RUN


class NodeStatus(StrEnum):
    INCOMPLETE = "INCOMPLETE"  # waiting for more linked inputs
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    TERMINATED = "TERMINATED"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_NODE


_FINAL_RUN = {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.TERMINATED}
_FINAL_NODE = {NodeStatus.COMPLETED, NodeStatus.FAILED, NodeStatus.TERMINATED}

# RUNNING -> QUEUED is the hand-back: a stopping executor returns a run, or a node that
# was interrupted (executor died, retry after backoff) is queued again.
RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.QUEUED: frozenset({RunStatus.RUNNING, RunStatus.TERMINATED}),
    RunStatus.RUNNING: frozenset(
        {RunStatus.QUEUED, RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.TERMINATED}
    ),
}
NODE_TRANSITIONS: dict[NodeStatus, frozenset[NodeStatus]] = {
    NodeStatus.INCOMPLETE: frozenset({NodeStatus.QUEUED, NodeStatus.TERMINATED}),
    NodeStatus.QUEUED: frozenset({NodeStatus.RUNNING, NodeStatus.TERMINATED}),
    NodeStatus.RUNNING: frozenset(
        {NodeStatus.QUEUED, NodeStatus.COMPLETED, NodeStatus.FAILED, NodeStatus.TERMINATED}
    ),
}


def run_sources(new: RunStatus) -> list[RunStatus]:
    """The statuses a run may move to ``new`` from (used in UPDATE ... WHERE status IN)."""
    return [old for old, targets in RUN_TRANSITIONS.items() if new in targets]


def check_run_transition(old: RunStatus, new: RunStatus) -> None:
    if new not in RUN_TRANSITIONS.get(old, frozenset()):
        raise Conflict(f"run cannot go from {old} to {new}")


def check_node_transition(old: NodeStatus, new: NodeStatus) -> None:
    if new not in NODE_TRANSITIONS.get(old, frozenset()):
        raise Conflict(f"node execution cannot go from {old} to {new}")


@dataclass
class NodeExecution:
    id: str
    run_id: str
    seq: int
    node_id: str
    block_id: str
    status: NodeStatus = NodeStatus.INCOMPLETE
    input_data: dict[str, Any] = field(default_factory=dict)
    output_data: list[tuple[str, Any]] = field(default_factory=list)
    attempt: int = 0
    error: str | None = None
    created_at: float = 0.0
    started_at: float | None = None
    ended_at: float | None = None
    # What the block reported about its work (e.g. LLM model and tokens).
    stats: dict[str, Any] = field(default_factory=dict)
    # Set in a resumed run: the earlier run's execution whose outputs this one reuses.
    reused_from: str | None = None

    def set_status(self, new: NodeStatus) -> None:
        check_node_transition(self.status, new)
        self.status = new

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, one key per column: the API's view and the store's row alike."""
        return {
            "id": self.id,
            "run_id": self.run_id,
            "seq": self.seq,
            "node_id": self.node_id,
            "block_id": self.block_id,
            "status": self.status.value,
            "input_data": self.input_data,
            "output_data": [list(pair) for pair in self.output_data],
            "attempt": self.attempt,
            "error": self.error,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "stats": self.stats,
            "reused_from": self.reused_from,
        }


@dataclass
class Run:
    id: str
    graph_id: str
    graph_version: int
    user_id: str
    status: RunStatus = RunStatus.QUEUED
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, list[Any]] = field(default_factory=dict)
    error: str | None = None
    owner: str | None = None
    lease_expires_at: float | None = None
    cancel_requested: bool = False
    created_at: float = 0.0
    started_at: float | None = None
    ended_at: float | None = None
    deadline_at: float | None = None
    # Claims since the run last made progress (a node finished); see the poison check.
    stalled_claims: int = 0
    # Credential references the run was started with, by the export's field name
    # ({"anthropic_api_key_credentials": {id, provider, type, title}}); never secrets.
    credentials: dict[str, Any] = field(default_factory=dict)
    # LLM tokens the run may spend in all (None: no budget).
    max_tokens: int | None = None
    # A sub-agent run: started by this node execution of that run, at this depth.
    parent_run_id: str | None = None
    parent_node_exec_id: str | None = None
    depth: int = 0
    # The API request that submitted it (its X-Request-ID), for the executor's log lines.
    request_id: str | None = None
    # That request's W3C traceparent (backend/util/traceparent.py), when it sent a valid one.
    traceparent: str | None = None

    @classmethod
    def new(
        cls,
        graph_id: str,
        graph_version: int,
        user_id: str,
        inputs: dict[str, Any],
        deadline_seconds: float | None = None,
        credentials: dict[str, Any] | None = None,
        max_tokens: int | None = None,
    ) -> Run:
        """A fresh QUEUED run, created now."""
        now = time.time()
        return cls(
            id=str(uuid.uuid4()),
            graph_id=graph_id,
            graph_version=graph_version,
            user_id=user_id,
            inputs=inputs,
            created_at=now,
            deadline_at=now + deadline_seconds if deadline_seconds else None,
            credentials=credentials or {},
            max_tokens=max_tokens,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "graph_id": self.graph_id,
            "graph_version": self.graph_version,
            "status": self.status.value,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "error": self.error,
            "cancel_requested": self.cancel_requested,
            "credentials": self.credentials,
            "max_tokens": self.max_tokens,
            "parent_run_id": self.parent_run_id,
            "parent_node_exec_id": self.parent_node_exec_id,
            "depth": self.depth,
            "request_id": self.request_id,
            "traceparent": self.traceparent,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
        }


@dataclass(frozen=True)
class Event:
    run_id: str
    type: str
    data: dict[str, Any]
    id: int = 0
    created_at: float = 0.0


@dataclass(frozen=True)
class RunWrite:
    """What one step of a run changed: node executions to upsert, events to append, and
    with ``finish``, the run's end (its final status, outputs and error), all at once."""

    run_id: str
    changed: list[NodeExecution]
    events: list[Event]
    finish: Run | None = None


@dataclass(frozen=True)
class ExecutorInfo:
    id: str
    host: str
    pid: int
    state: str
    started_at: float
    heartbeat_at: float
    stopped_at: float | None = None
