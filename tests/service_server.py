"""A scripted HTTP service on 127.0.0.1: the base of the fake Ideogram, Replicate and
revid.ai servers (each a route table speaking that service's public API).

A route is (method, path regex) -> handler; a test may script the next replies of a
route (an error status, a Retry-After, a held answer, bytes of the wrong shape) before
the handler's own answer takes over again. Every request is recorded, and every server
also serves ``GET /files/NAME`` (what a provider's CDN does for results) from
``served_files``.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.http_server import hold_until_closed

# A small valid PNG (1x1, transparent): what the fake services "generate".
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cf00000301010018dd8db40000000049454e44ae426082"
)


@dataclass(frozen=True)
class Json:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Raw:
    body: bytes
    status: int = 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hold:
    """Never answer: keep the request open until the client goes away."""


Reply = Json | Raw | Hold


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Handler = Callable[[Recorded, re.Match[str]], Reply]


class ServiceServer:
    def __init__(self, routes: dict[tuple[str, str], Handler]) -> None:
        self.routes = [
            (method, re.compile(path), handler) for (method, path), handler in routes.items()
        ]
        self.requests: list[Recorded] = []
        self.served_files: dict[str, tuple[bytes, str]] = {"image.png": (PNG, "image/png")}
        self.disconnected = threading.Event()
        self._script: dict[str, deque[Reply]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def file_url(self, name: str = "image.png") -> str:
        return f"{self.url}/files/{name}"

    def script(self, path: str, *replies: Reply) -> None:
        """The next answers to requests whose path matches the route ``path``."""
        with self._lock:
            self._script.setdefault(path, deque()).extend(replies)

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method is None or r.method == method]

    def __enter__(self) -> ServiceServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _answer(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            for pattern, replies in self._script.items():
                if replies and re.fullmatch(pattern, recorded.path):
                    return replies.popleft()
        if recorded.method == "GET" and recorded.path.startswith("/files/"):
            found = self.served_files.get(recorded.path.removeprefix("/files/"))
            return Raw(*found[:1], content_type=found[1]) if found else Json({}, 404)
        for method, pattern, handler in self.routes:
            if method == recorded.method and (match := pattern.fullmatch(recorded.path)):
                return handler(recorded, match)
        return Json({"detail": f"no route {recorded.method} {recorded.path}"}, 404)

    def _hold(self, connection: socket.socket) -> None:
        if hold_until_closed(connection, self._stopping):
            self.disconnected.set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def _handler_for(server: ServiceServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        timeout = 10

        def _handle(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            recorded = Recorded(
                self.command,
                parts.path,
                dict(urllib.parse.parse_qsl(parts.query)),
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            reply = server._answer(recorded)
            if isinstance(reply, Hold):
                server._hold(self.connection)
                self.close_connection = True
                return
            if isinstance(reply, Json):
                payload, content_type = json.dumps(reply.body).encode(), "application/json"
            else:
                payload, content_type = reply.body, reply.content_type
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        do_GET = do_POST = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
