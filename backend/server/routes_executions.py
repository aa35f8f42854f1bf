"""Runs: list, read, node executions, cancel, rerun, resume. Another user's run answers
404."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import status as http_status

from backend.data.execution import NodeStatus, Run, RunStatus
from backend.data.schema import INT_MAX
from backend.data.store import Store
from backend.errors import InvalidInput, NotFound
from backend.executor.limits import Limits
from backend.executor.submit import cancel_run, rerun, resume
from backend.server.auth import ReaderUserDep, UserDep
from backend.server.deps import CredentialsDep, SettingsDep, StoreDep
from backend.server.models_runs import (
    CancelAnswer,
    NodeExecutionPage,
    RerunAnswer,
    ResumeAnswer,
    RunPage,
    RunView,
)
from backend.server.openapi import errors
from backend.server.pagination import decode_cursor, encode_cursor
from backend.server.redaction import redactor
from backend.settings import Settings

TOKEN_KEYS = ("input_tokens", "output_tokens", "llm_calls")
# Node executions per page of /executions/{id}/nodes: by default, and at most.
NODES_PAGE = 100
MAX_NODES_PAGE = 1000
# A run view lists this many of its sub-agent runs; /executions?parent_id= pages them all.
MAX_CHILDREN_SHOWN = 200

router = APIRouter(prefix="/api/v1", tags=["executions"])


def own_run(store: Store, user: str, run_id: str) -> Run:
    """The run if it is ``user``'s; NotFound otherwise (existence is not revealed)."""
    try:
        run = store.get_run(run_id)
    except NotFound:
        run = None
    if run is None or run.user_id != user:
        raise NotFound(f"run {run_id} not found")
    return run


def run_view(store: Store, run: Run) -> dict[str, Any]:
    stats = store.run_stats(run.id)
    duration = (
        run.ended_at - run.started_at
        if run.ended_at is not None and run.started_at is not None
        else None
    )
    models = {name: asdict(usage) for name, usage in stats.models.items()}
    view = {
        **run.to_dict(),
        "stats": {
            "node_executions": stats.node_executions,
            "node_status_counts": stats.status_counts,
            "attempts": stats.attempts,
            "duration_seconds": duration,
            **{key: sum(m[key] for m in models.values()) for key in TOKEN_KEYS},
            "models": models,
        },
        "children": [
            {
                "id": c.id,
                "status": c.status.value,
                "graph_id": c.graph_id,
                "graph_version": c.graph_version,
                "parent_node_exec_id": c.parent_node_exec_id,
            }
            for c in store.list_runs(parent_run_id=run.id, limit=MAX_CHILDREN_SHOWN)
        ],
    }
    return redactor(store, run).run(view)


@router.get("/executions", summary="List your runs, newest first", response_model=RunPage)
def list_runs(
    user: ReaderUserDep,
    store: StoreDep,
    graph_id: str | None = None,
    status: RunStatus | None = None,
    parent_id: Annotated[
        str | None, Query(description="Only the sub-agent runs this run started")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    runs = store.list_runs(
        user_id=user,
        graph_id=graph_id,
        status=status,
        limit=limit,
        before=decode_cursor(cursor),
        parent_run_id=parent_id,
    )
    last = runs[-1] if len(runs) == limit else None
    return {
        "items": [redactor(store, run).run(run.to_dict()) for run in runs],
        "next_cursor": encode_cursor(last.created_at, last.id) if last else None,
    }


@router.get(
    "/executions/{run_id}",
    summary="One run: status, inputs, outputs, stats, error",
    response_model=RunView,
)
def get_run(run_id: str, user: ReaderUserDep, store: StoreDep) -> dict[str, Any]:
    return run_view(store, own_run(store, user, run_id))


@router.get(
    "/executions/{run_id}/nodes",
    summary="The run's node executions with inputs, outputs, status and timings",
    response_model=NodeExecutionPage,
)
def list_run_nodes(
    run_id: str,
    user: ReaderUserDep,
    store: StoreDep,
    status: NodeStatus | None = None,
    node_id: Annotated[str | None, Query(description="Only this node's executions")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_NODES_PAGE)] = NODES_PAGE,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    run = own_run(store, user, run_id)
    masked = redactor(store, run)
    nodes = store.node_executions_page(
        run.id, limit, after_seq=_seq_cursor(cursor), status=status, node_id=node_id
    )
    last = nodes[-1] if len(nodes) == limit else None
    return {
        "items": [masked.node(node.to_dict()) for node in nodes],
        "next_cursor": encode_cursor(float(last.seq), last.id) if last else None,
    }


def _seq_cursor(cursor: str | None) -> int | None:
    """The seq of the last node execution a previous page returned."""
    decoded = decode_cursor(cursor)
    if decoded is None:
        return None
    seq = decoded[0]
    if not seq.is_integer() or not 0 <= seq <= INT_MAX:
        raise InvalidInput(
            "invalid cursor: pass the next_cursor of a previous page unchanged",
            details=[{"loc": ["query", "cursor"], "message": "invalid cursor"}],
        )
    return int(seq)


@router.post(
    "/executions/{run_id}/cancel",
    status_code=http_status.HTTP_202_ACCEPTED,
    summary="Request cancellation; the run ends TERMINATED (409 if it already ended)",
    name="cancel_run",
    responses=errors(409),
    response_model=CancelAnswer,
)
def cancel_execution(run_id: str, user: UserDep, store: StoreDep) -> dict[str, Any]:
    own_run(store, user, run_id)
    run = cancel_run(store, run_id)
    return {"id": run.id, "status": run.status.value, "cancel_requested": run.cancel_requested}


@router.post(
    "/executions/{run_id}/rerun",
    status_code=http_status.HTTP_202_ACCEPTED,
    summary="Start the run again: a new run of the same graph version with the same inputs",
    response_model=RerunAnswer,
)
def rerun_run(
    run_id: str, user: UserDep, store: StoreDep, settings: SettingsDep, resolver: CredentialsDep
) -> dict[str, Any]:
    run = rerun(store, own_run(store, user, run_id), *_bounds(settings), resolver)
    return {"id": run.id, "status": run.status.value, "rerun_of": run_id}


@router.post(
    "/executions/{run_id}/resume",
    status_code=http_status.HTTP_202_ACCEPTED,
    summary="Resume a FAILED or TERMINATED run: a new run that reuses every completed "
    "node's outputs and executes only the rest (409 for other runs)",
    responses=errors(409),
    response_model=ResumeAnswer,
)
def resume_run(
    run_id: str, user: UserDep, store: StoreDep, settings: SettingsDep, resolver: CredentialsDep
) -> dict[str, Any]:
    run = resume(store, own_run(store, user, run_id), *_bounds(settings), resolver)
    nodes = store.node_executions(run.id)
    return {
        "id": run.id,
        "status": run.status.value,
        "resumed_from": run_id,
        "reused": [
            {"node_id": n.node_id, "node_exec_id": n.id, "reused_from": n.reused_from}
            for n in nodes
            if n.reused_from is not None
        ],
        "to_run": [n.node_id for n in nodes if n.status == NodeStatus.QUEUED],
    }


def _bounds(settings: Settings) -> tuple[float, Limits]:
    return settings.run_deadline_seconds, Limits.from_settings(settings)
