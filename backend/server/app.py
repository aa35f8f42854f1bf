"""The FastAPI application: routes, auth, errors, body limit, OpenAPI at /docs."""

from __future__ import annotations

import threading
import time
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from backend.data.credentials_manager import CredentialsManager
from backend.data.store import Store
from backend.data.vault import Vault, open_vault
from backend.providers.llm import configure as configure_llm
from backend.server import (
    api_docs,
    events,
    routes_blocks,
    routes_credentials,
    routes_executions,
    routes_files,
    routes_graphs,
    routes_health,
    routes_hooks,
    routes_schedules,
)
from backend.server.access import HEADER as ACCESS_HEADER
from backend.server.access import AccessMiddleware
from backend.server.body_limit import BodyLimitMiddleware
from backend.server.errors import install_error_handlers
from backend.server.idempotency import REPLAYED_HEADER
from backend.server.openapi import install_openapi, operation_id
from backend.server.request_guard import RequestGuardMiddleware
from backend.server.ui import install as install_monitor
from backend.settings import Settings

DESCRIPTION = """\
Durable execution of AutoGPT-style agent graphs.

Every `/api/v1` route needs `Authorization: Bearer <key>`; create a key with
`agent-server api-key create --user NAME`. Errors are JSON
`{"error": {"code", "message", "details"}}`.

The run monitor is at [/ui](/ui): sign in there with the same key.
"""


def _version() -> str:
    try:
        return version("agent-server")
    except PackageNotFoundError:
        return "0+unknown"


def create_app(settings: Settings, store: Store, vault: Vault | None = None) -> FastAPI:
    """The app over an opened, prepared ``store``; the caller owns (and closes) it.

    ``vault`` encrypts credentials; without one it is opened from ``settings`` (which
    fails with EncryptionKeyError when the key is not the database's).
    """
    app = FastAPI(
        title="agent-server",
        version=_version(),
        description=DESCRIPTION,
        generate_unique_id_function=operation_id,
        docs_url=None,  # served by api_docs, from the package instead of a CDN
        redoc_url=None,
    )
    install_openapi(app)
    app.state.settings = settings
    app.state.store = store
    app.state.credentials = CredentialsManager(
        settings, store, vault or open_vault(settings, store)
    )
    app.state.started_at = time.time()
    configure_llm(settings)  # graph validation checks model names against its table
    # Set when the server stops, so open event streams end instead of holding it up.
    app.state.stopping = threading.Event()
    install_error_handlers(app)
    # The last one added runs first: the limit bounds what the guard reads.
    app.add_middleware(RequestGuardMiddleware, raw_body_paths=routes_hooks.RAW_BODY_PATHS)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        # Outermost, so a browser's preflight is answered before the guard sees it. Keys
        # travel in the Authorization header, never in cookies: no credentials mode.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "Last-Event-ID",
                ACCESS_HEADER,
            ],
            expose_headers=["Retry-After", REPLAYED_HEADER, ACCESS_HEADER],
        )
    routers = (
        routes_health,
        routes_blocks,
        routes_graphs,
        routes_executions,
        events,
        routes_credentials,
        routes_files,
        routes_schedules,
        routes_hooks,
    )
    for module in routers:
        app.include_router(module.router)
    api_docs.install(app)
    install_monitor(app)
    # Added last, so it runs first: it times and logs every request, even one the CORS,
    # body-limit or guard middleware answers, and its request id is bound before them.
    app.add_middleware(AccessMiddleware)
    return app
