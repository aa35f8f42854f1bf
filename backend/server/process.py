"""AgentServer: the REST API as an AppProcess, served by uvicorn in this process.

The store is opened (its schema checked or upgraded), the encryption key proven to be the
database's, and the port bound before serving, so a bad database, a wrong key or a busy
port fails the start with one line and exit 1, like the executors. On a stop request
uvicorn stops accepting, open event streams end, in-flight requests finish (bounded), and
``run`` returns: exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import ClassVar

import uvicorn

from backend.data.open import open_store
from backend.data.store import Store
from backend.data.vault import open_vault
from backend.data.wait import wait_for_database
from backend.errors import ConfigError
from backend.server.app import create_app
from backend.util import tracing
from backend.util.process import AppProcess

logger = logging.getLogger(__name__)

# API requests are short and event streams end on stop; this bounds whatever is left.
_MAX_GRACE_SECONDS = 10.0


class _Server(uvicorn.Server):
    # AppProcess owns the signal handlers (a second signal exits at once); uvicorn's
    # would replace them and re-raise the signal once it has served.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on host:port, or one ConfigError naming the settings."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(f"invalid setting BACKEND_API_HOST={host!r}: {exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} (BACKEND_API_HOST, BACKEND_API_PORT): "
            f"{exc.strerror or exc}"
        ) from None
    return sock


class AgentServer(AppProcess):
    name: ClassVar[str] = "rest"
    _store: Store | None = None

    def run(self) -> None:
        settings = self.settings
        self._store = store = open_store(settings)
        if not wait_for_database(store, settings.database_wait_seconds, self.wait_for_stop):
            return
        store.prepare(settings.auto_migrate)
        app = create_app(settings, store, open_vault(settings, store))
        sock = bind(settings.api_host, settings.api_port)
        config = uvicorn.Config(
            app,
            # Logging is configured by AppProcess: one line per event, text or JSON.
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=int(
                max(1.0, min(settings.shutdown_grace_seconds, _MAX_GRACE_SECONDS))
            ),
        )
        server = _Server(config)

        def request_exit() -> None:
            app.state.stopping.set()
            server.should_exit = True

        self.on_stop(request_exit)
        logger.info("REST API listening on http://%s:%s", settings.api_host, settings.api_port)
        traced = tracing.start(settings, "agent-server-api")
        try:
            with sock:
                asyncio.run(server.serve(sockets=[sock]))
        finally:
            if traced:
                tracing.stop()
        logger.info("REST API stopped")

    def cleanup(self) -> None:
        if self._store is not None:
            self._store.close()
