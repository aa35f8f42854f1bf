"""Submitting, waiting for and cancelling runs: the programmatic entry the REST API, the
CLI and the tests share. Everything here is one store call; executors do the rest."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from backend.blocks import get_block
from backend.data.execution import NodeExecution, Run, RunStatus
from backend.data.graph import Graph
from backend.data.graph_cache import graph_cache
from backend.data.graph_cache import load_graph as cached_graph
from backend.data.run_keys import RunKey
from backend.data.schedules import ScheduleAdvance
from backend.data.store import Store
from backend.data.validation import raise_if_invalid, validate_graph, validate_run_inputs
from backend.errors import Conflict, InvalidInput
from backend.executor.credentials import Resolver, check_graph, run_references
from backend.executor.engine import RunState
from backend.executor.exports import check_sub_agents
from backend.executor.limits import Limits
from backend.executor.local import check_runnable
from backend.executor.resume import replay
from backend.executor.runner import run_event
from backend.util import traceparent
from backend.util.logs import current_context

# Makes a new run's first node executions from its (empty) state.
StartBuilder = Callable[[RunState, Run], list[NodeExecution]]
# Shared by waiters: polling the store is how a run's end is observed from outside.
WAIT_POLL_SECONDS = 0.05


def save_graph(store: Store, user_id: str, graph: Graph) -> Graph:
    """Validate and store ``graph`` as a new version of its id."""
    raise_if_invalid("graph is invalid", validate_graph(graph))
    version = store.save_graph(user_id, graph.to_json(), time.time())
    return graph.model_copy(update={"version": version})


def load_graph(store: Store, user_id: str, graph_id: str, version: int | None = None) -> Graph:
    """The graph (``version``, or the active one), parsed once per version and shared:
    do not change it (see graph_cache.py)."""
    return cached_graph(store, user_id, graph_id, version)


def load_live_graph(store: Store, user_id: str, graph_id: str, version: int | None = None) -> Graph:
    """The graph (``version``, or the active one) if the graph is not deleted: a deleted
    graph's pinned versions stay loadable for its runs, not for starting new ones."""
    latest = load_graph(store, user_id, graph_id)
    return (
        latest
        if version in (None, latest.version)
        else load_graph(store, user_id, graph_id, version)
    )


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
    return submit_keyed_run(
        store,
        user_id,
        graph,
        inputs,
        deadline_seconds,
        limits,
        credentials=credentials,
        max_tokens=max_tokens,
        resolver=resolver,
    ).run


@dataclass(frozen=True)
class Submitted:
    run: Run
    # The key had already started this run: nothing new was queued.
    replayed: bool = False


def submit_keyed_run(
    store: Store,
    user_id: str,
    graph: Graph,
    inputs: dict[str, Any],
    deadline_seconds: float | None = None,
    limits: Limits | None = None,
    key: RunKey | None = None,
    advance: ScheduleAdvance | None = None,
    build: StartBuilder | None = None,
    *,
    credentials: Mapping[str, Any] | None = None,
    max_tokens: int | None = None,
    resolver: Resolver | None = None,
) -> Submitted:
    """``submit_graph_run`` under an idempotency ``key`` and with a schedule ``advance``,
    both in the run's transaction (see ``Store.submit_run``). ``build`` makes the run's
    first node executions (default: the graph's starting nodes, QUEUED)."""
    limits = limits or Limits()
    references = check_submittable(
        store, user_id, graph, inputs, deadline_seconds, limits, credentials or {}, resolver
    )
    budget = max_tokens or limits.max_tokens_per_run or None
    run = Run.new(graph.id, graph.version, user_id, inputs, deadline_seconds, references, budget)
    # Submitted while serving an API request: its id is in the log context (access.py).
    run.request_id = current_context().get("request")
    run.traceparent = traceparent.incoming()
    state = RunState(run.id, graph)
    starting = build(state, run) if build else state.start(inputs, run.created_at)
    run_id = store.submit_run(run, starting, run_event(run), key, advance)
    if run_id == run.id:
        return Submitted(run)
    return Submitted(store.get_run(run_id), replayed=True)


def rerun(
    store: Store,
    run: Run,
    deadline_seconds: float | None = None,
    limits: Limits | None = None,
    resolver: Resolver | None = None,
) -> Run:
    """A new run of ``run``'s graph version with its inputs, credentials and budget."""
    graph = load_live_graph(store, run.user_id, run.graph_id, run.graph_version)
    return submit_graph_run(
        store,
        run.user_id,
        graph,
        run.inputs,
        deadline_seconds,
        limits,
        credentials=run.credentials,
        max_tokens=run.max_tokens,
        resolver=resolver,
    )


def resume(
    store: Store,
    run: Run,
    deadline_seconds: float | None = None,
    limits: Limits | None = None,
    resolver: Resolver | None = None,
) -> Run:
    """A new run of ``run`` (FAILED or TERMINATED) that reuses the outputs of every node
    execution it completed and executes only the rest (see resume.py)."""
    if run.status not in (RunStatus.FAILED, RunStatus.TERMINATED):
        raise Conflict(
            f"run {run.id} is {run.status.value}; only a FAILED or TERMINATED run can be "
            "resumed (rerun starts any run again)"
        )
    graph = load_live_graph(store, run.user_id, run.graph_id, run.graph_version)
    earlier = store.node_executions(run.id)

    def build(state: RunState, new: Run) -> list[NodeExecution]:
        return replay(state, new.inputs, earlier, new.created_at)

    return submit_keyed_run(
        store,
        run.user_id,
        graph,
        run.inputs,
        deadline_seconds,
        limits,
        build=build,
        credentials=run.credentials,
        max_tokens=run.max_tokens,
        resolver=resolver,
    ).run


def check_submittable(
    store: Store,
    user_id: str,
    graph: Graph,
    inputs: dict[str, Any],
    deadline_seconds: float | None,
    limits: Limits,
    credentials: Mapping[str, Any],
    resolver: Resolver | None,
) -> dict[str, dict[str, Any]]:
    """Refuse a run that cannot go (422); returns its credential references."""
    _check_runnable(store, user_id, graph, inputs, limits)
    check_sub_agents(store, user_id, graph, limits.max_agent_depth)
    references = run_references(credentials)
    if resolver is not None:
        check_graph(graph, user_id, references, resolver)
    if deadline_seconds is not None and deadline_seconds > limits.max_run_deadline_seconds:
        raise InvalidInput(
            f"deadline of {deadline_seconds:g} s is above the limit of "
            f"{limits.max_run_deadline_seconds:g} s (BACKEND_MAX_RUN_DEADLINE_SECONDS)"
        )
    return references


def _check_runnable(
    store: Store, user_id: str, graph: Graph, inputs: dict[str, Any], limits: Limits
) -> None:
    """``check_runnable``, whose graph-only part is done once per loaded version: a
    version passes it the same way every time while its nodes' blocks stay the same."""
    cache = graph_cache(store)
    blocks = [get_block(node.block_id) for node in graph.nodes]
    bound = limits.max_node_timeout_seconds
    if cache.is_runnable(user_id, graph, blocks, bound):
        # The same single error as check_runnable: the graph-only part has none.
        raise_if_invalid("graph cannot run", validate_run_inputs(graph, inputs))
        return
    check_runnable(graph, inputs, limits)
    cache.mark_runnable(user_id, graph, blocks, bound)


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
