"""Optional OpenTelemetry tracing: a span per run, per node attempt and per API request.

Off unless BACKEND_TRACING=otlp. The OpenTelemetry packages (the ``tracing`` extra) are
imported only when it is on, so a server without them runs as before; asking for tracing
without them stops the process at start with one line saying what to install.

Spans go through a tracer provider of our own, never OpenTelemetry's process-wide one:
nothing else in the process starts exporting because we did, and a process that has
tracing off leaves every provider alone. A batch processor sends them to the OTLP/HTTP
endpoint from a background thread, so a slow or absent collector never holds up a node.

The API's request span and the executor's run span share the request id (``request.id``),
the same id that links their log lines: a run is found from the request that submitted
it, and the other way round. When the request sent a W3C ``traceparent``, the run stores
it and both spans are children of the caller's span: one trace, the caller's. Its sampled
flag is obeyed (the provider samples by parent): a caller that does not record its trace
gets no spans of ours for it either.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from backend.errors import ConfigError
from backend.settings import Settings
from backend.util import traceparent

if TYPE_CHECKING:
    from backend.data.execution import NodeExecution, Run

logger = logging.getLogger(__name__)
SCOPE = "agent_server"
# Node errors can be long (a traceback's last line, an LLM's answer); spans stay small.
_MAX_MESSAGE = 1000
_EXPORT_TIMEOUT = 5.0

_provider: Any = None
_tracer: Any = None


def enabled() -> bool:
    return _tracer is not None


def install(exporter: Any, service: str) -> Any:
    """Trace from now on into ``exporter`` (an OpenTelemetry SpanExporter); returns the
    provider (``force_flush()`` sends what is batched)."""
    global _provider, _tracer
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    _provider, _tracer = provider, provider.get_tracer(SCOPE)
    return provider


def start(settings: Settings, service: str) -> bool:
    """Turn tracing on as ``settings`` say; True when this call did (the caller then calls
    ``stop()`` at its end). Already on (a test's exporter, or an earlier call): False."""
    if settings.tracing == "off" or enabled():
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise ConfigError(
            "BACKEND_TRACING=otlp needs the OpenTelemetry packages: "
            "pip install 'agent-server[tracing]'"
        ) from None
    # A collector that is down holds up only the exporting thread, and a stop's last
    # flush, by at most this long per batch.
    install(OTLPSpanExporter(endpoint=settings.otel_endpoint, timeout=_EXPORT_TIMEOUT), service)
    logger.info("tracing to %s", settings.otel_endpoint)
    return True


def stop() -> None:
    """Send what is batched and turn tracing off."""
    global _provider, _tracer
    provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        provider.shutdown()


def _set_error(span: Any, message: str) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_status(Status(StatusCode.ERROR, message[:_MAX_MESSAGE]))


class RunTrace:
    """The spans of one run's execution on this executor: the run's, and one child per
    node attempt. A run handed back and resumed elsewhere has one run span per executor
    that ran it, all with the same ``run.id``."""

    def __init__(self, run: Run) -> None:
        attributes: dict[str, str | int] = {
            "run.id": run.id,
            "graph.id": run.graph_id,
            "graph.version": run.graph_version,
            "user.id": run.user_id,
        }
        if run.request_id:
            attributes["request.id"] = run.request_id
        self._span = _tracer.start_span(
            "run", context=_remote_parent(run.traceparent), attributes=attributes
        )
        self._nodes: dict[str, Any] = {}

    def node_started(self, ne: NodeExecution, block_name: str) -> None:
        from opentelemetry.trace import set_span_in_context

        self._nodes[ne.id] = _tracer.start_span(
            f"node {block_name}",
            context=set_span_in_context(self._span),
            attributes={
                "run.id": ne.run_id,
                "node.id": ne.node_id,
                "node_exec.id": ne.id,
                "block.id": ne.block_id,
                "block.name": block_name,
                "attempt": ne.attempt,
            },
        )

    def node_ended(self, ne: NodeExecution, status: str, error: str | None = None) -> None:
        """``status``: COMPLETED, FAILED, RETRIED (this attempt raised; another follows)
        or TERMINATED (the run ended or was handed back while it ran)."""
        span = self._nodes.pop(ne.id, None)
        if span is None:
            return
        span.set_attribute("status", status)
        if error:
            _set_error(span, error)
        span.end()

    def end(self, run: Run, error: str | None = None) -> None:
        for span in self._nodes.values():
            span.set_attribute("status", "TERMINATED")
            span.end()
        self._nodes.clear()
        self._span.set_attribute("status", run.status.value)
        if error or run.status.value == "FAILED":
            _set_error(self._span, error or run.error or "failed")
        self._span.end()


def run_trace(run: Run) -> RunTrace | None:
    """The run's spans, or None with tracing off."""
    return RunTrace(run) if enabled() else None


def _remote_parent(value: str | None) -> Any:
    """The context whose span is the caller's (a stored traceparent), or None: a root."""
    if value is None:
        return None
    from opentelemetry.trace import (
        NonRecordingSpan,
        SpanContext,
        TraceFlags,
        set_span_in_context,
    )

    trace_id, span_id, flags = traceparent.ids(value)
    remote = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags & 1))
    return set_span_in_context(NonRecordingSpan(remote))


def request_span(method: str, request_id: str, parent: str | None = None) -> Any:
    """A span for one API request (None with tracing off), a child of the caller's span
    when it sent a ``parent`` traceparent; ``end_request`` ends it."""
    if not enabled():
        return None
    return _tracer.start_span(
        method,
        context=_remote_parent(parent),
        attributes={"http.request.method": method, "request.id": request_id},
    )


def end_request(span: Any, route: str, status: int) -> None:
    if span is None:
        return
    span.update_name(f"{span.name} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        _set_error(span, f"HTTP {status}")
    span.end()
