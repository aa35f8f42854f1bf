"""Run a graph in-process, in memory: the engine's reference mode (tests, `run-local`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from backend.data.execution import Event, NodeExecution, Run
from backend.data.graph import Graph
from backend.data.validation import validate_graph, validate_run_inputs
from backend.errors import InvalidInput
from backend.executor.engine import RunState
from backend.executor.runner import Limits, RunRunner, run_event


@dataclass
class MemoryJournal:
    """Keeps what a durable store would write, so local runs can be inspected."""

    executions: dict[str, NodeExecution] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    async def save(self, changed: Sequence[NodeExecution], events: Sequence[Event]) -> None:
        for ne in changed:
            self.executions[ne.id] = ne
        self.events.extend(events)

    async def finish(self, run: Run, events: Sequence[Event]) -> None:
        self.events.extend(events)

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


def check_runnable(graph: Graph, inputs: dict[str, Any]) -> None:
    errors = validate_graph(graph, for_run=True) + validate_run_inputs(graph, inputs)
    if errors:
        raise InvalidInput(
            "graph cannot run: " + "; ".join(str(e) for e in errors),
            details=[str(e) for e in errors],
        )


async def run_local(
    graph: Graph, inputs: dict[str, Any], limits: Limits | None = None
) -> LocalResult:
    """Validate, then execute ``graph`` to the end in this process."""
    check_runnable(graph, inputs)
    now = time.time()
    run = Run(
        id=str(uuid.uuid4()),
        graph_id=graph.id,
        graph_version=graph.version,
        user_id="local",
        inputs=inputs,
        created_at=now,
        started_at=now,
    )
    state = RunState(run.id, graph)
    journal = MemoryJournal()
    await journal.save(state.start(inputs, now), [run_event(run)])
    await RunRunner(run, state, journal, limits or Limits()).execute()
    return LocalResult(run, journal)
