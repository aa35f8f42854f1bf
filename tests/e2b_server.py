"""A fake E2B: its REST API and a sandbox's two services, on one uvicorn server.

What the ``e2b-code-interpreter`` SDK talks to, all public: E2B's REST API (``POST
/v2/sandboxes``, ``DELETE /sandboxes/{id}``, from E2B's published OpenAPI spec), the
code interpreter's ``POST /execute`` (JSON lines: stdout, stderr, result, error,
end_of_execution) and the process service of the sandbox daemon, served with the
Connect RPC server stubs E2B publishes in its SDK (``process.Process/Start``). The SDK
reaches a sandbox at one URL (``sandbox_url``) and names the port in a header, so the
one server answers all three. Code is not run: each ``/execute`` answers the next
scripted ``Execution`` (default: prints "Hello World"); setup commands answer scripted
exit codes.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from e2b.envd.process import process_pb
from e2b.envd.process.process_connect import Process, ProcessASGIApplication
from protobuf import Oneof
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.http_server import AsgiServer

KEY = "e2b_test_key_77c1a9d04f2e"
ACCESS_TOKEN = "envd-access-token-31c0"
JUPYTER_PORT = "49999"
ENVD_PORT = "49983"


@dataclass
class Execution:
    """What one ``/execute`` answers (or ``status`` with an error body)."""

    stdout: list[str] = field(default_factory=lambda: ["Hello World\n"])
    stderr: list[str] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, str] | None = None
    status: int = 200
    hold: bool = False  # never finish (the client must give up)


@dataclass
class Command:
    exit_code: int = 0
    stdout: bytes = b""
    stderr: bytes = b""


class E2BServer:
    def __init__(self, key: str = KEY) -> None:
        self.key = key
        self.sandboxes: dict[str, dict[str, Any]] = {}
        self.killed: list[str] = []
        self.executed: list[dict[str, Any]] = []
        self.commands: list[list[str]] = []
        self.create_replies: list[tuple[int, dict[str, Any], dict[str, str]]] = []
        self.executions: list[Execution] = []
        self.command_results: list[Command] = []
        self.execute_abandoned = threading.Event()
        self._stopping = threading.Event()
        self._http = AsgiServer(_Dispatch(self._rest_app(), ProcessASGIApplication(_Process(self))))
        self.url = self._http.url

    def __enter__(self) -> E2BServer:
        self._http.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._http.__exit__(*exc)

    # -- E2B's REST API ----------------------------------------------------------------

    def _rest_app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v2/sandboxes", self._create, methods=["POST"]),
                Route("/sandboxes/{sandbox_id}", self._kill, methods=["DELETE"]),
                Route("/execute", self._execute, methods=["POST"]),
                Route("/health", lambda request: Response(status_code=204), methods=["GET"]),
            ]
        )

    async def _create(self, request: Request) -> Response:
        if request.headers.get("x-api-key") != self.key:
            return JSONResponse({"code": 401, "message": "Invalid API key"}, 401)
        if self.create_replies:
            status, body, headers = self.create_replies.pop(0)
            return JSONResponse(body, status, headers=headers)
        body = await request.json()
        sandbox_id = f"sbx{len(self.sandboxes) + 1}"
        self.sandboxes[sandbox_id] = body
        return JSONResponse(
            {
                "templateID": body.get("templateID"),
                "sandboxID": sandbox_id,
                "clientID": "client",
                "envdVersion": "0.5.4",
                "envdAccessToken": ACCESS_TOKEN,
            },
            201,
        )

    async def _kill(self, request: Request) -> Response:
        if request.headers.get("x-api-key") != self.key:
            return JSONResponse({"code": 401, "message": "Invalid API key"}, 401)
        self.killed.append(request.path_params["sandbox_id"])
        return Response(status_code=204)

    # -- the code interpreter ----------------------------------------------------------

    async def _execute(self, request: Request) -> Response:
        if request.headers.get("e2b-sandbox-port") != JUPYTER_PORT:
            return JSONResponse({"message": "wrong port"}, 502)
        if request.headers.get("x-access-token") != ACCESS_TOKEN:
            return JSONResponse({"message": "missing envd access token"}, 401)
        self.executed.append(
            {"sandbox": request.headers.get("e2b-sandbox-id"), **(await request.json())}
        )
        run = self.executions.pop(0) if self.executions else Execution()
        if run.status != 200:
            return Response(json.dumps({"message": "kernel died"}), run.status)
        return StreamingResponse(self._lines(run), media_type="application/x-ndjson")

    async def _lines(self, run: Execution) -> AsyncIterator[bytes]:
        now = time.time()
        for text in run.stdout:
            yield _line({"type": "stdout", "text": text, "timestamp": now})
        for text in run.stderr:
            yield _line({"type": "stderr", "text": text, "timestamp": now})
        for result in run.results:
            yield _line({"type": "result", **result})
        if run.error:
            yield _line({"type": "error", **run.error})
        if run.hold:
            try:
                while not self._stopping.is_set():
                    await asyncio.sleep(0.05)
            finally:
                self.execute_abandoned.set()
            return
        yield _line({"type": "number_of_executions", "execution_count": 1})
        yield _line({"type": "end_of_execution"})


def _line(data: dict[str, Any]) -> bytes:
    return (json.dumps(data) + "\n").encode()


class _Dispatch:
    """Connect RPC paths to the process service, everything else to the REST app."""

    def __init__(self, rest: Any, rpc: Any) -> None:
        self.rest, self.rpc = rest, rpc

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/process.Process/"):
            await self.rpc(scope, receive, send)
        else:
            await self.rest(scope, receive, send)


class _Process(Process):
    """The sandbox daemon's process service: Start answers start, output, end."""

    def __init__(self, server: E2BServer) -> None:
        self.server = server

    def start(self, request: Any, ctx: Any) -> AsyncIterator[Any]:
        self.server.commands.append(list(request.process.args))
        result = self.server.command_results.pop(0) if self.server.command_results else Command()
        return _events(result)


async def _events(result: Command) -> AsyncIterator[Any]:
    event = process_pb.ProcessEvent
    yield process_pb.StartResponse(event=event(event=Oneof("start", event.StartEvent(pid=7))))
    for name, data in (("stdout", result.stdout), ("stderr", result.stderr)):
        if data:
            output = event.DataEvent(output=Oneof(name, data))
            yield process_pb.StartResponse(event=event(event=Oneof("data", output)))
    end = event.EndEvent(exit_code=result.exit_code, exited=True, status="exited")
    yield process_pb.StartResponse(event=event(event=Oneof("end", end)))


def serve() -> Iterator[E2BServer]:
    with E2BServer() as server:
        yield server
