"""One access log line per request, a request id, and the API's request metrics.

The request id is the client's ``X-Request-ID`` when it sent a usable one (a proxy or a
caller tracing its own requests), else a new one; the response echoes it. It is bound to
the log context for the whole request, so every line the request logs carries
``request=...``, and a run the request submits stores it (``submit_keyed_run`` reads it
from the log context): the executor's lines about that run carry it too, and with tracing
on both the request's span and the run's carry it as ``request.id``. A valid W3C
``traceparent`` the request sent is kept the same way (backend/util/traceparent.py): the
run stores it, and with tracing on the request's span and the run's are its children.

The access line names the path without its query string: queries may hold secrets (an
OAuth callback's code). Metrics are labelled by route template (``/api/v1/executions/
{run_id}``), never by raw path, so their number of series stays fixed.

An exception no handler turned into an answer (a route's bug, or another middleware's)
is answered here, as the error envelope's 500 with the request id: starlette's own last
resort sits outside this middleware, so its answer would carry no id, and its traceback
would be logged without the request's context.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.server.errors import internal_error_response
from backend.server.metrics import HTTP_DURATION, HTTP_REQUESTS
from backend.util import traceparent, tracing
from backend.util.logs import log_context

logger = logging.getLogger("backend.server.access")
# Tracebacks go where the error handlers log theirs, apart from the one line per request.
_errors = logging.getLogger("backend.server.errors")

HEADER = "X-Request-ID"
# What we accept from a client: short, and nothing that could forge a log field.
_USABLE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
# Requests no route matched share one label (scanners' paths would each make a series).
UNMATCHED = "unmatched"


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _USABLE_ID.fullmatch(text) else None
    return None


def route_template(scope: Scope) -> str:
    """The path pattern of the route that served the request (set by the router)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class AccessMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or uuid.uuid4().hex
        # Also on request.state, for a route that wants to show it.
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # what the client gets when the app fails before answering
        started_answer = False
        header = (HEADER.lower().encode(), request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_answer
            if message["type"] == "http.response.start":
                status, started_answer = int(message["status"]), True
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        started = time.perf_counter()
        parent = traceparent.from_headers(scope.get("headers", []))
        span = tracing.request_span(scope["method"], request_id, parent)
        with log_context(request=request_id), traceparent.carried(parent):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                _errors.exception("%s %s failed", scope["method"], scope["path"])
                if started_answer:
                    raise  # half an answer is out: only closing the connection is left
                await internal_error_response()(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                method, route = scope["method"], route_template(scope)
                HTTP_REQUESTS.labels(method, route, str(status)).inc()
                HTTP_DURATION.labels(method, route).observe(elapsed)
                tracing.end_request(span, route, status)
                logger.info("%s %s %s %.1fms", method, scope["path"], status, elapsed * 1000)
