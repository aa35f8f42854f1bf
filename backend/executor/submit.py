"""Submitting, waiting for and cancelling runs: the programmatic entry the REST API, the
CLI and the tests share. Everything here is one store call; executors do the rest."""

from __future__ import annotations

import time
import uuid
from typing import Any

from backend.data.execution import Run
from backend.data.graph import Graph
from backend.data.store import Store
from backend.data.validation import validate_graph
from backend.errors import InvalidInput
from backend.executor.engine import RunState
from backend.executor.local import check_runnable
from backend.executor.runner import run_event

# Shared by waiters: polling the store is how a run's end is observed from outside.
WAIT_POLL_SECONDS = 0.05


def save_graph(store: Store, user_id: str, graph: Graph) -> Graph:
    """Validate and store ``graph`` as a new version of its id."""
    errors = validate_graph(graph)
    if errors:
        raise InvalidInput(
            "graph is invalid: " + "; ".join(str(e) for e in errors),
            details=[str(e) for e in errors],
        )
    version = store.save_graph(user_id, graph.to_json(), time.time())
    return graph.model_copy(update={"version": version})


def load_graph(store: Store, user_id: str, graph_id: str, version: int | None = None) -> Graph:
    return Graph.from_json(store.get_graph(user_id, graph_id, version))


def submit_run(
    store: Store,
    user_id: str,
    graph_id: str,
    inputs: dict[str, Any],
    version: int | None = None,
    deadline_seconds: float | None = None,
) -> Run:
    """Queue a run: the run, its starting node executions and its first event, at once."""
    graph = load_graph(store, user_id, graph_id, version)
    check_runnable(graph, inputs)
    now = time.time()
    run = Run(
        id=str(uuid.uuid4()),
        graph_id=graph.id,
        graph_version=graph.version,
        user_id=user_id,
        inputs=inputs,
        created_at=now,
        deadline_at=now + deadline_seconds if deadline_seconds else None,
    )
    starting = RunState(run.id, graph).start(inputs, now)
    store.submit_run(run, starting, run_event(run))
    return run


def wait_for_run(store: Store, run_id: str, timeout: float) -> Run:
    """Block until the run has ended (or ``timeout`` passes; then return it as it is)."""
    deadline = time.monotonic() + timeout
    while True:
        run = store.get_run(run_id)
        if run.status.is_final or time.monotonic() >= deadline:
            return run
        time.sleep(WAIT_POLL_SECONDS)


def cancel_run(store: Store, run_id: str) -> Run:
    """Ask for the run to end TERMINATED; its owner sees the flag within one heartbeat."""
    return store.request_cancel(run_id, time.time())
