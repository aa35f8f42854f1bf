"""Graphs: create, list, read, new version, delete, and start a run.

Graphs are validated with the engine's validator before they are stored; a graph the
engine could not run answers 422 with one entry per problem, each naming its node and
pin. Another user's graph answers 404, exactly like a graph that does not exist.
"""

from __future__ import annotations

import functools
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response, status
from pydantic import AliasChoices, BaseModel, Field, ValidationError

from backend.data.credentials_manager import CredentialsManager
from backend.data.graph import Graph, content_hash
from backend.data.schema import INT_MAX
from backend.errors import InvalidInput
from backend.executor.credentials import credentials_report
from backend.executor.exports import export_graph, import_graph, parse_sub_graphs
from backend.executor.limits import Limits
from backend.executor.submit import load_graph, load_live_graph, save_graph, submit_keyed_run
from backend.schedules.manage import suggested_schedule
from backend.server.auth import ReaderUserDep, UserDep
from backend.server.deps import CredentialsDep, SettingsDep, StoreDep
from backend.server.idempotency import REPLAYED_HEADER, IdempotencyKey, execute_key
from backend.server.models import CreatedGraph, GraphPage, GraphView
from backend.server.models_runs import RunStarted
from backend.server.openapi import errors
from backend.server.pagination import decode_cursor, encode_cursor

router = APIRouter(prefix="/api/v1", tags=["graphs"])

GraphBody = Annotated[
    dict[str, Any],
    Body(
        description="Graph JSON: {name, description, nodes, links}; an AutoGPT export "
        '(or {"graph": {...}}) is accepted as-is, unknown fields ignored.',
        examples=[{"name": "echo", "nodes": [], "links": []}],
    ),
]


class ExecuteRequest(BaseModel):
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="Run inputs by AgentInput name."
    )
    version: int | None = Field(
        None, ge=1, le=INT_MAX, description="Graph version; the active one if unset."
    )
    credentials: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("credentials", "credentials_inputs"),
        description="Credential references {id, provider, type, title} by the export's "
        "field names (e.g. anthropic_api_key_credentials): the nodes that need a provider "
        "and name no credential of their own use these. AutoGPT's `credentials_inputs` "
        "is accepted too.",
    )
    max_tokens: int | None = Field(
        None, ge=1, le=INT_MAX, description="LLM tokens this run may spend in all."
    )


def _parse_graph(body: dict[str, Any], graph_id: str) -> Graph:
    try:
        graph = Graph.from_json(body)
    except ValidationError as exc:
        details = [
            {
                "node_id": None,
                "pin": None,
                "message": f"{'.'.join(str(p) for p in err['loc']) or 'graph'}: {err['msg']}",
            }
            for err in exc.errors()
        ]
        raise InvalidInput(
            "graph is not a valid graph: " + "; ".join(str(d["message"]) for d in details),
            details=details,
        ) from None
    except ValueError as exc:
        raise InvalidInput(
            f"graph is not valid: {exc}",
            details=[{"node_id": None, "pin": None, "message": str(exc)}],
        ) from None
    return graph.model_copy(update={"id": graph_id})


@router.post(
    "/graphs",
    status_code=status.HTTP_201_CREATED,
    summary="Create a graph (a new id, version 1)",
    responses={
        200: {
            "model": CreatedGraph,
            "description": "With ?reuse=true: your live graph of the same content",
        }
    },
    response_model=CreatedGraph,
    response_model_exclude_unset=True,
)
def create_graph(
    user: UserDep,
    store: StoreDep,
    resolver: CredentialsDep,
    body: GraphBody,
    response: Response,
    reuse: Annotated[
        bool,
        Query(
            description="Answer 200 with your live graph of the same content, if you have "
            "one, instead of storing a copy; the answer says `reused`."
        ),
    ] = False,
) -> dict[str, Any]:
    # A fresh id unless ?reuse, as AutoGPT does on import: importing the same export
    # twice, or one another user imported, makes two independent graphs, never a clash.
    graph = _parse_graph(body, str(uuid.uuid4()))
    sub_graphs = parse_sub_graphs(body)
    if sub_graphs:
        graph, imported = import_graph(store, user, graph, sub_graphs)
    else:
        imported = []
    existing = store.find_graph(user, content_hash(graph.to_json())) if reuse else None
    if existing is not None:
        saved = Graph.from_json(existing)
        response.status_code = status.HTTP_200_OK
    else:
        saved = save_graph(store, user, graph)
    stored = {**_with_report(saved, user, resolver), "sub_graphs_imported": imported}
    if reuse:
        stored["reused"] = existing is not None
    # An AutoGPT export's recommended_schedule_cron is offered, never started by itself.
    if (offer := suggested_schedule(saved)) is not None:
        stored["suggested_schedule"] = offer
    return stored


def _with_report(graph: Graph, user: str, resolver: CredentialsManager) -> dict[str, Any]:
    """The graph, and the credentials its nodes need (``credentials_required``)."""
    return {**graph.to_json(), **_report(graph, user, resolver)}


def _report(graph: Graph, user: str, resolver: CredentialsManager) -> dict[str, Any]:
    has = functools.partial(resolver.has_credentials, user)
    return {"credentials_required": credentials_report(graph, has)}


@router.get(
    "/graphs",
    summary="List your graphs (active versions, newest first)",
    response_model=GraphPage,
)
def list_graphs(
    user: ReaderUserDep,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    items = store.list_graphs(user, limit=limit, before=decode_cursor(cursor))
    last = items[-1] if len(items) == limit else None
    return {
        "items": items,
        "next_cursor": encode_cursor(last["created_at"], last["id"]) if last else None,
    }


@router.get(
    "/graphs/{graph_id}",
    summary="One graph (the active version unless ?version=N)",
    response_model=GraphView,
    response_model_exclude_unset=True,
)
def get_graph(
    graph_id: str,
    user: ReaderUserDep,
    store: StoreDep,
    resolver: CredentialsDep,
    version: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
    include_sub_graphs: Annotated[
        bool, Query(description="Add `sub_graphs`: every graph it runs, as AutoGPT exports")
    ] = False,
) -> dict[str, Any]:
    graph = load_live_graph(store, user, graph_id, version)
    if include_sub_graphs:
        return {**export_graph(store, user, graph), **_report(graph, user, resolver)}
    return _with_report(graph, user, resolver)


@router.put(
    "/graphs/{graph_id}",
    summary="Store a new version; it becomes the active one",
    response_model=GraphView,
    response_model_exclude_unset=True,
)
def update_graph(
    graph_id: str, user: UserDep, store: StoreDep, resolver: CredentialsDep, body: GraphBody
) -> dict[str, Any]:
    load_graph(store, user, graph_id)
    graph = _parse_graph(body, graph_id)
    return _with_report(save_graph(store, user, graph), user, resolver)


@router.delete(
    "/graphs/{graph_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a graph (its runs keep their history)",
)
def delete_graph(graph_id: str, user: UserDep, store: StoreDep) -> None:
    store.delete_graph(user, graph_id)


@router.post(
    "/graphs/{graph_id}/execute",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start a run; executors pick it up from the queue",
    responses=errors(409),
    response_model=RunStarted,
)
def execute_graph(
    graph_id: str,
    user: UserDep,
    store: StoreDep,
    settings: SettingsDep,
    resolver: CredentialsDep,
    response: Response,
    body: Annotated[ExecuteRequest | None, Body()] = None,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    request = body or ExecuteRequest()
    graph = load_live_graph(store, user, graph_id, request.version)
    asked = {"graph_id": graph_id, **request.model_dump()}
    submitted = submit_keyed_run(
        store,
        user,
        graph,
        request.inputs,
        deadline_seconds=settings.run_deadline_seconds,
        limits=Limits.from_settings(settings),
        credentials=request.credentials,
        max_tokens=request.max_tokens,
        resolver=resolver,
        key=execute_key(user, idempotency_key, asked, settings),
    )
    if submitted.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return {"id": submitted.run.id, "status": submitted.run.status.value}
