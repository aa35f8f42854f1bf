"""The monitor's pages at /ui, and the few changes it makes (each with its CSRF token).

Pages are rendered on the server with Jinja2 (autoescape on: graph names and values are
untrusted); a small script per page adds live updates and sends the changes as JSON.
A page asked for without a session redirects to the sign-in form; another user's run
or graph answers 404, exactly as in the API. Changes reuse the API's own functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from pydantic import BaseModel, Field

from backend.data.execution import RunStatus
from backend.data.graph import Graph
from backend.errors import BackendError, NotFound
from backend.server import routes_executions, routes_graphs
from backend.server.auth import caller_for_key
from backend.server.deps import CredentialsDep, SettingsDep, StoreDep, VaultDep
from backend.server.errors import Unauthorized
from backend.server.pagination import decode_cursor, encode_cursor
from backend.server.redaction import redactor
from backend.server.routes_executions import own_run, run_view
from backend.server.routes_graphs import ExecuteRequest
from backend.server.ui import views
from backend.server.ui.layout import BOX_HEIGHT, BOX_WIDTH, draw, node_subtitle, node_title
from backend.server.ui.session import (
    ChangeDep,
    MaybeSession,
    Session,
    SessionDep,
    clear_session_cookie,
    set_session_cookie,
)

router = APIRouter(prefix="/ui", include_in_schema=False)

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals.update(box_width=BOX_WIDTH, box_height=BOX_HEIGHT)
_templates = Jinja2Templates(env=_env)
# Scripts and styles only from here: an injected tag could not run even if one slipped by.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _render(
    request: Request,
    name: str,
    session: Session | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    context = {"session": session, "statuses": [s.value for s in RunStatus], **context}
    return _templates.TemplateResponse(
        request, name, context, status_code=status_code, headers=SECURITY_HEADERS
    )


def _to_sign_in(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"/ui/login?next={quote(target, safe='')}", status_code=303)
    clear_session_cookie(response, request)  # a revoked key's cookie is of no more use
    return response


def _not_found(request: Request, session: Session, message: str) -> HTMLResponse:
    return _render(
        request, "error.html", session, status_code=404, title="Not found", message=message
    )


def _bad_request(request: Request, session: Session, exc: BackendError) -> HTMLResponse:
    return _render(
        request,
        "error.html",
        session,
        status_code=exc.http_status,
        title="Cannot show this page",
        message=exc.message,
    )


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/ui") and not target.startswith("//"):
        return target
    return "/ui/runs"


# -- session ------------------------------------------------------------------------------


class SignIn(BaseModel):
    key: str = Field(min_length=1, max_length=512, description="An API key.")


@router.get("")
def home() -> RedirectResponse:
    return RedirectResponse("/ui/runs", status_code=303)


@router.get("/login", response_model=None)
def sign_in_page(request: Request, session: MaybeSession, next: str | None = None) -> Response:
    if session is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _render(request, "login.html", None, next=_safe_next(next))


@router.get("/session")
def session_state(session: MaybeSession) -> dict[str, Any]:
    """Whether this browser's cookie is a live session (the sign-in page asks)."""
    return {"signed_in": session is not None}


@router.post("/login", status_code=204)
def sign_in(request: Request, store: StoreDep, vault: VaultDep, body: SignIn) -> Response:
    caller = caller_for_key(store, body.key)
    if caller is None:
        raise Unauthorized("invalid or revoked API key")
    response = Response(status_code=204)
    set_session_cookie(response, request, vault, caller)
    return response


@router.post("/logout", status_code=204)
def sign_out(request: Request, session: ChangeDep) -> Response:
    response = Response(status_code=204)
    clear_session_cookie(response, request)
    return response


# -- runs ---------------------------------------------------------------------------------

RunFilter = Annotated[RunStatus | None, Query()]


@router.get("/runs", response_model=None)
def runs(
    request: Request,
    store: StoreDep,
    session: MaybeSession,
    status: Annotated[str | None, Query()] = None,
    graph_id: Annotated[str | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
) -> Response:
    if session is None:
        return _to_sign_in(request)
    chosen = RunStatus(status) if status in {s.value for s in RunStatus} else None
    try:
        page = views.runs_page(store, session.user, chosen, graph_id or None, cursor)
    except BackendError as exc:  # a cursor edited by hand
        return _bad_request(request, session, exc)
    choices = [(g["id"], g["name"] or g["id"]) for g in store.list_graphs(session.user, limit=200)]
    if graph_id and graph_id not in {gid for gid, _ in choices}:
        choices.append((graph_id, graph_id))  # a deleted graph's runs stay listed
    return _render(
        request,
        "runs.html",
        session,
        page=page,
        graph_choices=choices,
        status=chosen.value if chosen else "",
        graph_id=graph_id or "",
        cursor=cursor or "",
    )


@router.get("/runs.json")
def runs_data(
    store: StoreDep,
    session: SessionDep,
    status: RunFilter = None,
    graph_id: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = views.PAGE_SIZE,
) -> dict[str, Any]:
    return views.runs_page(store, session.user, status, graph_id or None, cursor, limit)


@router.get("/runs/{run_id}", response_model=None)
def run_page(request: Request, run_id: str, store: StoreDep, session: MaybeSession) -> Response:
    if session is None:
        return _to_sign_in(request)
    try:
        run = own_run(store, session.user, run_id)
    except NotFound:
        return _not_found(request, session, f"run {run_id} not found")
    view = run_view(store, run)  # masked
    try:
        graph = Graph.from_json(store.get_graph(session.user, run.graph_id, run.graph_version))
    except NotFound:
        graph = Graph(id=run.graph_id, version=run.graph_version)
    states = views.node_states(store.node_executions(run.id))
    masked = redactor(store, run)
    nodes = [
        {
            "id": node.id,
            "title": masked.value(node_title(node)),
            "subtitle": masked.value(node_subtitle(node)),
            "status": states.get(node.id, {}).get("status", "NOT_RUN"),
            "executions": states.get(node.id, {}).get("executions", 0),
        }
        for node in graph.nodes
    ]
    return _render(
        request,
        "run.html",
        session,
        run=view,
        graph=graph,
        graph_name=graph.name or run.graph_id,
        drawing=draw(graph, mask=masked.value),
        selectable=True,
        svg_label="The graph's nodes, coloured by status: select one for its details",
        nodes=nodes,
        states=states,
        when=views.when,
        duration=views.duration(run.started_at, run.ended_at),
        pretty=views.pretty,
    )


@router.post("/runs/{run_id}/cancel", status_code=202)
def cancel(run_id: str, store: StoreDep, session: ChangeDep) -> dict[str, Any]:
    return routes_executions.cancel_execution(run_id, session.user, store)


# -- graphs -------------------------------------------------------------------------------


@router.get("/graphs", response_model=None)
def graphs(
    request: Request,
    store: StoreDep,
    session: MaybeSession,
    cursor: Annotated[str | None, Query()] = None,
) -> Response:
    if session is None:
        return _to_sign_in(request)
    try:
        before = decode_cursor(cursor)
    except BackendError as exc:
        return _bad_request(request, session, exc)
    items = store.list_graphs(session.user, limit=views.PAGE_SIZE, before=before)
    last = items[-1] if len(items) == views.PAGE_SIZE else None
    next_cursor = encode_cursor(last["created_at"], last["id"]) if last else None
    return _render(
        request, "graphs.html", session, graphs=items, when=views.when, next_cursor=next_cursor
    )


@router.post("/graphs", status_code=201)
def import_graph(
    store: StoreDep,
    resolver: CredentialsDep,
    session: ChangeDep,
    body: Annotated[dict[str, Any], Body()],
    response: Response,
) -> dict[str, Any]:
    created = routes_graphs.create_graph(session.user, store, resolver, body, response)
    return {"id": created["id"], "version": created["version"]}


@router.get("/graphs/{graph_id}", response_model=None)
def graph_page(
    request: Request,
    graph_id: str,
    store: StoreDep,
    session: MaybeSession,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    if session is None:
        return _to_sign_in(request)
    try:
        latest = Graph.from_json(store.get_graph(session.user, graph_id))
        graph = (
            latest
            if version is None
            else Graph.from_json(store.get_graph(session.user, graph_id, version))
        )
    except NotFound:
        return _not_found(request, session, f"graph {graph_id} not found")
    recent = store.list_runs(user_id=session.user, graph_id=graph_id, limit=10)
    names = views.GraphNames(store, session.user)
    return _render(
        request,
        "graph.html",
        session,
        graph=graph,
        latest_version=latest.version,
        drawing=draw(graph),
        states={},
        selectable=False,
        svg_label="The graph's nodes and links",
        fields=views.input_fields(graph),
        runs=[views.run_row(store, run, names) for run in recent],
    )


@router.post("/graphs/{graph_id}/runs", status_code=202)
def start_run(
    graph_id: str,
    store: StoreDep,
    settings: SettingsDep,
    resolver: CredentialsDep,
    session: ChangeDep,
    body: ExecuteRequest,
    response: Response,
) -> dict[str, Any]:
    return routes_graphs.execute_graph(
        graph_id, session.user, store, settings, resolver, response, body
    )
