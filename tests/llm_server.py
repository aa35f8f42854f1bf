"""A scripted LLM server on 127.0.0.1 speaking OpenAI's and Anthropic's wire protocols.

``POST /v1/chat/completions`` answers like OpenAI's chat completions (and so like every
OpenAI-compatible server), ``POST /v1/messages`` like Anthropic's Messages API; shapes
follow the providers' public API references. Each request takes the next scripted
reply (an answer, a tool call, an error status, a slow or held answer, raw bytes);
when the script is empty it answers ``default``. Every request is recorded so tests can
check what the SDKs really sent.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.http_server import hold_until_closed

OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"


@dataclass(frozen=True)
class Answer:
    """A successful completion; no text and no tool calls make an empty answer."""

    text: str = ""
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()  # (name, arguments)
    input_tokens: int = 11
    output_tokens: int = 7


@dataclass(frozen=True)
class Status:
    """An error answer in the protocol's error shape, e.g. 429 with a Retry-After."""

    code: int
    message: str = "scripted failure"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Raw:
    """Bytes sent as they are (malformed JSON, an answer of the wrong shape)."""

    body: bytes
    code: int = 200
    content_type: str = "application/json"


@dataclass(frozen=True)
class Slow:
    """``then``, after ``seconds`` (cut short when the server stops)."""

    seconds: float
    then: Reply


@dataclass(frozen=True)
class Hold:
    """Never answer: keep the request open until the client goes away."""


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def text(self) -> str:
        """Everything the request asked in words (system prompt and message texts)."""
        parts = [str(self.body.get("system", ""))]
        for message in self.messages:
            content = message.get("content")
            if isinstance(content, list):
                parts += [str(block.get("text", "")) for block in content]
            else:
                parts.append(str(content or ""))
        return "\n".join(parts)


@dataclass(frozen=True)
class Respond:
    """The reply ``answer`` makes for the request (e.g. echoing a tag it was sent)."""

    answer: Callable[[Recorded], Reply]


Reply = Answer | Status | Raw | Slow | Hold | Respond


class LLMServer:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.default: Reply = Answer("scripted default answer")
        self.disconnected = threading.Event()  # a held request's client went away
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> None:
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.requests) >= count, timeout):
                raise TimeoutError(f"{len(self.requests)} of {count} requests after {timeout} s")

    def start(self) -> LLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- used by the handler ----------------------------------------------------------

    def _take(self, recorded: Recorded) -> Reply:
        with self._arrived:
            self.requests.append(recorded)
            self._arrived.notify_all()
            return self._script.popleft() if self._script else self.default

    def _hold(self, connection: socket.socket) -> None:
        if hold_until_closed(connection, self._stopping):
            self.disconnected.set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many clients at once must not find the backlog full


def _handler_for(server: LLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real providers do
        disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms stall
        timeout = 10  # an idle kept-alive connection does not hold its thread forever

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            headers = {k.lower(): v for k, v in self.headers.items()}
            recorded = Recorded(self.path, headers, body)
            reply = server._take(recorded)
            if self.path not in (OPENAI_PATH, ANTHROPIC_PATH):
                reply = Status(404, f"no route {self.path}")
            while isinstance(reply, Respond):
                reply = reply.answer(recorded)
            self._serve(reply, body)

        def _serve(self, reply: Reply, request: Any) -> None:
            if isinstance(reply, Hold):
                server._hold(self.connection)
                self.close_connection = True
                return
            if isinstance(reply, Slow):
                server._stopping.wait(reply.seconds)
                self._serve(reply.then, request)
                return
            anthropic = self.path == ANTHROPIC_PATH
            headers: dict[str, str] = {}
            if isinstance(reply, Raw):
                code, payload, content_type = reply.code, reply.body, reply.content_type
            elif isinstance(reply, Status):
                code, content_type, headers = reply.code, "application/json", reply.headers
                payload = json.dumps(_error(reply, anthropic)).encode()
            else:
                code, content_type = 200, "application/json"
                model = request.get("model", "") if isinstance(request, dict) else ""
                shape = _anthropic_answer if anthropic else _openai_answer
                payload = json.dumps(shape(reply, model)).encode()
            try:
                self.send_response(code)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up first

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


def _openai_answer(answer: Answer, model: str) -> dict[str, Any]:
    calls = [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)},
        }
        for i, (name, arguments) in enumerate(answer.tool_calls)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": answer.text or None}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if calls else "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": answer.input_tokens,
            "completion_tokens": answer.output_tokens,
            "total_tokens": answer.input_tokens + answer.output_tokens,
        },
    }


def _anthropic_answer(answer: Answer, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": answer.text}] if answer.text else []
    content += [
        {"type": "tool_use", "id": f"toolu_{i}", "name": name, "input": arguments}
        for i, (name, arguments) in enumerate(answer.tool_calls)
    ]
    return {
        "id": "msg_scripted",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if answer.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens},
    }


def _error(status: Status, anthropic: bool) -> dict[str, Any]:
    kind = "rate_limit_error" if status.code == 429 else "api_error"
    if anthropic:
        return {"type": "error", "error": {"type": kind, "message": status.message}}
    return {"error": {"message": status.message, "type": kind, "param": None, "code": None}}


def serve() -> Iterator[LLMServer]:
    """The body of a pytest fixture: a started server, stopped afterwards."""
    with LLMServer() as server:
        yield server
