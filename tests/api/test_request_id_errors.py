"""A 500 carries the request id too, over real HTTP: a route's bug and another
middleware's bug end as the JSON error envelope with ``X-Request-ID``, and the id is in
the access line and on the traceback's line."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import Receive, Scope, Send

from backend.util.logs import current_context
from tests.api.conftest import LiveServer, assert_error


class Lines(logging.Handler):
    """Every line logged, with the log context it was logged in."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str, dict[str, str], bool]] = []

    def emit(self, record: logging.LogRecord) -> None:
        entry = (record.name, record.getMessage(), current_context(), bool(record.exc_info))
        self.lines.append(entry)


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


class FailingMiddleware:
    """A middleware with a bug on one path, inside the access middleware."""

    def __init__(self, app: object) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/middleware-bug":
            raise RuntimeError("middleware bug")
        await self.app(scope, receive, send)  # type: ignore[operator]


@pytest.fixture
def failing_app(app: FastAPI) -> FastAPI:
    async def route_bug() -> dict[str, str]:
        raise RuntimeError("route bug")

    app.add_api_route("/route-bug", route_bug)
    # Just inside the access middleware (the outermost of ours): where every other
    # middleware of the app sits.
    assert app.user_middleware[0].cls.__name__ == "AccessMiddleware"
    app.user_middleware.insert(1, Middleware(FailingMiddleware))
    return app


@pytest.mark.parametrize("path", ["/route-bug", "/middleware-bug"])
def test_a_500_carries_the_request_id_in_header_and_logs(
    failing_app: FastAPI, lines: Lines, path: str
) -> None:
    with LiveServer(failing_app) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        sent = http.get(path, headers={"X-Request-ID": "req-500-sent"})
        made = http.get(path)
        # The server still answers after both.
        assert http.get("/health").status_code == 200
    for response in (sent, made):
        error = assert_error(response, 500, "internal_error")
        assert "bug" not in error["message"]  # the exception's text stays in the log
        assert response.headers["content-type"] == "application/json"
    assert sent.headers["X-Request-ID"] == "req-500-sent"
    new_id = made.headers["X-Request-ID"]
    assert new_id and new_id != "req-500-sent"
    for request_id in ("req-500-sent", new_id):
        mine = [line for line in lines.lines if line[2].get("request") == request_id]
        access = [m for n, m, _, _ in mine if n == "backend.server.access"]
        assert access == [access[0]] and access[0].startswith(f"GET {path} 500 "), mine
        tracebacks = [m for n, m, _, exc in mine if exc]
        assert tracebacks == [f"GET {path} failed"], mine
