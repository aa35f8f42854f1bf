"""Submitting, waiting for and cancelling runs: the programmatic entry the REST API, the
CLI and the tests share. Everything here is one store call; executors do the rest."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from backend.data.execution import Run
from backend.data.graph import Graph
from backend.data.store import Store
from backend.data.validation import raise_if_invalid, validate_graph
from backend.errors import InvalidInput
from backend.executor.credentials import Resolver, check_graph, run_references
from backend.executor.engine import RunState
from backend.executor.exports import check_sub_agents
from backend.executor.limits import Limits
from backend.executor.local import check_runnable
from backend.executor.runner import run_event

# Shared by waiters: polling the store is how a run's end is observed from outside.
WAIT_POLL_SECONDS = 0.05


def save_graph(store: Store, user_id: str, graph: Graph) -> Graph:
    """Validate and store ``graph`` as a new version of its id."""
    raise_if_invalid("graph is invalid", validate_graph(graph))
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
    limits: Limits | None = None,
) -> Run:
    """Queue a run of a stored graph (the active version unless ``version``)."""
    graph = load_graph(store, user_id, graph_id, version)
    return submit_graph_run(store, user_id, graph, inputs, deadline_seconds, limits)


def submit_graph_run(
    store: Store,
    user_id: str,
    graph: Graph,
    inputs: dict[str, Any],
    deadline_seconds: float | None = None,
    limits: Limits | None = None,
    *,
    credentials: Mapping[str, Any] | None = None,
    max_tokens: int | None = None,
    resolver: Resolver | None = None,
) -> Run:
    """Queue a run of ``graph``, already loaded from the store: the run, its starting node
    executions and its first event, at once. ``limits`` are the operator's bounds;
    ``credentials`` the run's credential references by field name, which ``resolver``
    checks (a run whose nodes would find no credential is refused, 422); ``max_tokens``
    the run's token budget (default: BACKEND_MAX_TOKENS_PER_RUN)."""
    limits = limits or Limits()
    check_runnable(graph, inputs, limits)
    check_sub_agents(store, user_id, graph, limits.max_agent_depth)
    references = run_references(credentials or {})
    if resolver is not None:
        check_graph(graph, user_id, references, resolver)
    if deadline_seconds is not None and deadline_seconds > limits.max_run_deadline_seconds:
        raise InvalidInput(
            f"deadline of {deadline_seconds:g} s is above the limit of "
            f"{limits.max_run_deadline_seconds:g} s (BACKEND_MAX_RUN_DEADLINE_SECONDS)"
        )
    budget = max_tokens or limits.max_tokens_per_run or None
    run = Run.new(graph.id, graph.version, user_id, inputs, deadline_seconds, references, budget)
    starting = RunState(run.id, graph).start(inputs, run.created_at)
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
