"""Resuming a run that failed or was cancelled: a new run that reuses what the old one
completed and executes only the rest.

The new run is built by replaying the old one through the engine: it starts like any run
of the same graph version with the same inputs, and each QUEUED execution whose node
completed in the old run *with the same inputs* is completed at once with that run's
recorded outputs (marked ``reused_from``), which routes them downstream exactly as if the
node had run again. Matches are taken in the order the old run completed them, so the
replay meets the same states the old run went through. What no completed execution
matches (the failed node, whatever it fed, whatever never ran) stays QUEUED or
INCOMPLETE for an executor. Where blocks are deterministic the outputs equal a clean
run's: reused values are the ones such a run would have produced.
"""

from __future__ import annotations

import heapq
import json
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from typing import Any

from backend.data.execution import NodeExecution, NodeStatus
from backend.executor.engine import RunState

_Match = tuple[str, str]


def _match_key(ne: NodeExecution) -> _Match:
    # The stored form of the inputs: the earlier run's went through the database's JSON.
    return ne.node_id, json.dumps(ne.input_data, sort_keys=True, default=str)


def replay(
    state: RunState, inputs: dict[str, Any], earlier: Sequence[NodeExecution], now: float
) -> list[NodeExecution]:
    """The node executions of a new run (``state``, still empty) that resumes the run
    whose executions were ``earlier``; in creation order."""
    completed = sorted(
        (ne for ne in earlier if ne.status == NodeStatus.COMPLETED),
        key=lambda ne: (ne.ended_at or 0.0, ne.seq),
    )
    rank = {ne.id: position for position, ne in enumerate(completed)}
    available: dict[_Match, deque[NodeExecution]] = defaultdict(deque)
    for ne in completed:
        available[_match_key(ne)].append(ne)
    # Ready executions with a match, by the position of their match in the old run.
    ready: list[tuple[int, int, str]] = []
    offered: set[str] = set()

    def offer(executions: Iterable[NodeExecution]) -> None:
        for ne in executions:
            if ne.status != NodeStatus.QUEUED or ne.id in offered:
                continue
            matches = available.get(_match_key(ne))
            if matches:
                offered.add(ne.id)
                heapq.heappush(ready, (rank[matches[0].id], ne.seq, ne.id))

    offer(state.start(inputs, now))
    while ready:
        _, _, ne_id = heapq.heappop(ready)
        ne = state.executions[ne_id]
        matches = available.get(_match_key(ne))
        if not matches:
            continue
        offer(state.reuse(ne, matches.popleft(), now))
    return sorted(state.executions.values(), key=lambda ne: ne.seq)
