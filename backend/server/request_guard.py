"""Refuse, before routing, what no route could store or answer: checked once for all.

* Path, query and header values must not hold a NUL character or a lone surrogate
  (422 naming the value): PostgreSQL cannot compare them to a text column.
* A non-empty body must be declared JSON (``Content-Type: application/json`` or
  ``application/*+json``; else 415): a browser can send other types cross-site without
  asking first, so accepting them would open form posts to a cookie session.
* The body must be JSON we can keep (see :mod:`backend.server.json_body`).
* Except on the raw-body routes the app names (webhook deliveries), which check their
  bodies themselves: senders post forms and text, signed over the exact bytes.

The body is read here (under the body limit, which sits outside this middleware), then
handed to the app unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import anyio
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.errors import BackendError
from backend.server.errors import (
    UnsupportedMediaType,
    backend_error_response,
    http_error_response,
)
from backend.server.json_body import invalid_at, parse_json, shown, text_problem


class RequestGuardMiddleware:
    def __init__(self, app: ASGIApp, raw_body_paths: Sequence[re.Pattern[str]] = ()) -> None:
        """``raw_body_paths``: POST routes that read their body themselves (webhook
        deliveries: any type their sender uses, signed as bytes, no cookie session)."""
        self.app = app
        self.raw_body_paths = tuple(raw_body_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response: Response | None = None
        body = b""
        try:
            check_values(scope)
            body, disconnected = await _read_body(receive)
            if disconnected:
                return
            if body and not self._raw(scope):
                check_content_type(scope)
                await anyio.to_thread.run_sync(parse_json, body)
        except BackendError as exc:
            response = backend_error_response(exc)
        except HTTPException as exc:  # the body limit, while the body streamed in
            response = http_error_response(exc)
        if response is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    def _raw(self, scope: Scope) -> bool:
        return scope["method"] == "POST" and any(
            pattern.match(scope["path"]) for pattern in self.raw_body_paths
        )


def check_values(scope: Scope) -> None:
    """InvalidInput for the first path, query or header value that cannot be stored."""
    if problem := text_problem(scope["path"]):
        raise invalid_at(["path"], problem)
    for name, value in QueryParams(scope.get("query_string", b"")).multi_items():
        if problem := text_problem(name) or text_problem(value):
            raise invalid_at(["query", shown(name)], problem)
    for raw_name, raw_value in scope.get("headers", ()):
        # Header bytes are read as Latin-1: a NUL is the only character that can hurt.
        if b"\x00" in raw_value:
            name = raw_name.decode("latin-1")
            raise invalid_at(["header", name], "NUL character (\\u0000) cannot be stored")


def check_content_type(scope: Scope) -> None:
    declared = ""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            declared = value.decode("latin-1")
            break
    media_type = declared.split(";", 1)[0].strip().lower()
    main, _, sub = media_type.partition("/")
    if main == "application" and (sub == "json" or sub.endswith("+json")):
        return
    got = f"got {shown(declared)!r}" if declared else "no Content-Type was sent"
    raise UnsupportedMediaType(
        f"request bodies must be JSON sent with Content-Type: application/json ({got})"
    )


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole body, and whether the client hung up before sending it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        # Later calls wait for the client to hang up (streaming responses listen for it).
        return await receive()

    return replay
