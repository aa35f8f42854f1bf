"""What a run's transitions leave behind: their events, and snapshots of the node
executions to write (the engine goes on mutating the live ones while a write is queued).
"""

from __future__ import annotations

import copy
import time
from typing import Any

from backend.data.execution import Event, NodeExecution, NodeStatus, Run

__all__ = ["node_event", "run_event", "snapshot", "tokens_of"]


def tokens_of(stats: dict[str, Any]) -> int:
    """LLM tokens a node execution's stats report (input and output)."""
    return int(stats.get("input_tokens", 0)) + int(stats.get("output_tokens", 0))


def snapshot(ne: NodeExecution) -> NodeExecution:
    # A shallow copy with its own input and output containers: cheaper than
    # dataclasses.replace, which goes through __init__ (several per step).
    snap = copy.copy(ne)
    snap.input_data = dict(ne.input_data)
    snap.output_data = list(ne.output_data)
    return snap


def node_event(ne: NodeExecution) -> Event:
    data: dict[str, Any] = {
        "node_exec_id": ne.id,
        "node_id": ne.node_id,
        "block_id": ne.block_id,
        "status": ne.status.value,
        "attempt": ne.attempt,
    }
    if ne.status == NodeStatus.COMPLETED:
        data["outputs"] = [list(pair) for pair in ne.output_data]
    if ne.error:
        data["error"] = ne.error
    return Event(ne.run_id, "node_status", data, created_at=time.time())


def run_event(run: Run) -> Event:
    data: dict[str, Any] = {"status": run.status.value}
    if run.status.is_final:
        data["outputs"] = run.outputs
        data["error"] = run.error
    return Event(run.id, "run_status", data, created_at=time.time())
