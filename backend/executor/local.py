"""Run a graph in-process, in memory: the engine's reference mode (tests, `run-local`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from backend.data.execution import Event, NodeExecution, Run
from backend.data.graph import Graph
from backend.data.validation import (
    raise_if_invalid,
    validate_graph,
    validate_limits,
    validate_run_inputs,
)
from backend.executor.credentials import Resolver, check_graph, lookup
from backend.executor.engine import RunState
from backend.executor.limits import Limits
from backend.executor.node import NodeExecutor, NodeServices
from backend.executor.pool import WorkerPool
from backend.executor.runner import RunRunner, run_event

# A local run's worker processes, when the caller brings no pool of its own.
LOCAL_WORKERS = 2
LOCAL_WORKER_MEMORY_BYTES = 1024 * 1024 * 1024


@dataclass
class MemoryJournal:
    """Keeps what a durable store would write, so local runs can be inspected."""

    executions: dict[str, NodeExecution] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    async def save(self, changed: Sequence[NodeExecution], events: Sequence[Event]) -> None:
        for ne in changed:
            self.executions[ne.id] = ne
        self.events.extend(events)

    async def finish(
        self, run: Run, changed: Sequence[NodeExecution], events: Sequence[Event]
    ) -> None:
        await self.save(changed, events)

    async def release(self, run: Run, event: Event) -> None:
        self.events.append(event)


@dataclass
class LocalResult:
    run: Run
    journal: MemoryJournal

    @property
    def executions(self) -> list[NodeExecution]:
        return sorted(self.journal.executions.values(), key=lambda e: e.seq)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.run.status.value,
            "outputs": self.run.outputs,
            "node_executions": len(self.journal.executions),
            "error": self.run.error,
        }


def check_runnable(graph: Graph, inputs: dict[str, Any], limits: Limits) -> None:
    errors = (
        validate_graph(graph, for_run=True)
        + validate_run_inputs(graph, inputs)
        + validate_limits(graph, limits.max_node_timeout_seconds)
    )
    raise_if_invalid("graph cannot run", errors)


async def run_local(
    graph: Graph,
    inputs: dict[str, Any],
    limits: Limits | None = None,
    pool: WorkerPool | None = None,
    credentials: Resolver | None = None,
    services: NodeServices | None = None,
    parent: Run | None = None,
) -> LocalResult:
    """Validate, then execute ``graph`` to the end in this process (isolated blocks in
    ``pool``'s worker processes, or in a pool of its own for this run). ``credentials``
    gives nodes their credentials (the operator's defaults for a local run), ``services``
    their sub-agents and key/value store; ``parent`` makes it a sub-agent run of that."""
    limits = limits or Limits()
    check_runnable(graph, inputs, limits)
    if credentials is not None:
        check_graph(graph, "local", {}, credentials)
    run = Run.new(graph.id, graph.version, "local", inputs)
    run.started_at = run.created_at  # nothing to claim: it starts as it is created
    if parent is not None:
        run.parent_run_id, run.depth = parent.id, parent.depth + 1
    state = RunState(run.id, graph)
    journal = MemoryJournal()
    await journal.save(state.start(inputs, run.created_at), [run_event(run)])
    own_pool = pool is None
    pool = pool or WorkerPool(LOCAL_WORKERS, LOCAL_WORKER_MEMORY_BYTES)
    try:
        resolve = lookup(credentials) if credentials is not None else None
        nodes = (
            NodeExecutor(pool, limits, resolve, services)
            if resolve
            else (NodeExecutor(pool, limits, services=services))
        )
        await RunRunner(run, state, journal, limits, nodes).execute()
    finally:
        if own_pool:
            pool.close()
    return LocalResult(run, journal)
