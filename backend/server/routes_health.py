"""Liveness, readiness and metrics: no API key (the bind address decides exposure)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from backend.errors import StoreError
from backend.server.deps import SettingsDep, StoreDep
from backend.server.errors import error_response
from backend.server.metrics import CONTENT_TYPE, render_metrics
from backend.server.models import Status

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: 200 while the server is serving", response_model=Status)
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: the database is reachable and its schema is current",
    responses={200: {"model": Status}},
)
def ready(store: StoreDep) -> JSONResponse:
    try:
        current = store.schema_is_current()
    except StoreError as exc:
        return error_response(503, "not_ready", exc.message)
    if not current:
        return error_response(503, "not_ready", "database schema is not at this code's revision")
    return JSONResponse({"status": "ready"})


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=PlainTextResponse,
)
def metrics(request: Request, store: StoreDep, settings: SettingsDep) -> PlainTextResponse:
    text = render_metrics(store, settings)
    return PlainTextResponse(text, media_type=CONTENT_TYPE)
