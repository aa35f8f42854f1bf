"""OpenTelemetry spans of runs and nodes, from the real executor on a real store."""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.trace import StatusCode

from backend.blocks import get_block
from backend.data.execution import RunStatus
from backend.data.graph import Graph, Node
from backend.data.store import Store
from backend.executor.submit import save_graph, submit_run
from tests.blocks_for_tests import FlakyBlock
from tests.graphs import STORE_VALUE
from tests.http_server import serving
from tests.integration.test_manager import chain, drain, flaky, store
from tests.spans import by_name, collecting

__all__ = ["flaky", "store"]  # fixtures shared with test_manager

REPO_ROOT = Path(__file__).resolve().parents[2]


def two_graphs(store: Store) -> tuple[str, str]:
    """A run of two nodes that completes, and a run whose one node fails twice."""
    ok = save_graph(
        store,
        "alice",
        chain(
            Node(id="a", block_id=STORE_VALUE, input_default={"input": "x"}),
            Node(id="b", block_id=STORE_VALUE),
        ),
    )
    retry = {"max_attempts": 2, "retry_backoff_seconds": 0.01}
    failing = save_graph(
        store,
        "alice",
        Graph(
            nodes=[
                Node(id="f", block_id=FlakyBlock.id, input_default={"token": "tr"}, metadata=retry)
            ]
        ),
    )
    return submit_run(store, "alice", ok.id, {}).id, submit_run(store, "alice", failing.id, {}).id


def attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes)


def test_a_run_span_with_a_child_span_per_node_attempt(
    tmp_path: Path, store: Store, flaky: None
) -> None:
    ok_id, failing_id = two_graphs(store)
    with collecting() as finished:
        drain(tmp_path, tracing="otlp")
        spans = finished()
    runs = {attrs(span)["run.id"]: span for span in by_name(spans, "run")}
    assert set(runs) == {ok_id, failing_id}
    ok, failing = runs[ok_id], runs[failing_id]
    assert attrs(ok)["graph.id"] == store.get_run(ok_id).graph_id
    assert attrs(ok)["status"] == "COMPLETED"
    assert ok.status.status_code == StatusCode.UNSET
    assert attrs(failing)["status"] == "FAILED"
    assert failing.status.status_code == StatusCode.ERROR

    def nodes_of(run: Any) -> list[Any]:
        children = [
            s for s in spans if s.parent is not None and s.parent.span_id == run.context.span_id
        ]
        assert all(s.context.trace_id == run.context.trace_id for s in children)
        return sorted(children, key=lambda s: (attrs(s)["node.id"], attrs(s)["attempt"]))

    store_value = get_block(STORE_VALUE)
    assert store_value is not None
    assert [
        (s.name, attrs(s)["node.id"], attrs(s)["attempt"], attrs(s)["status"]) for s in nodes_of(ok)
    ] == [
        (f"node {store_value.name}", "a", 1, "COMPLETED"),
        (f"node {store_value.name}", "b", 1, "COMPLETED"),
    ]
    for span in nodes_of(ok):
        assert attrs(span)["run.id"] == ok_id
        assert attrs(span)["block.name"] == store_value.name
        assert span.status.status_code == StatusCode.UNSET
    first, second = nodes_of(failing)
    assert (attrs(first)["attempt"], attrs(first)["status"]) == (1, "RETRIED")
    assert (attrs(second)["attempt"], attrs(second)["status"]) == (2, "FAILED")
    assert attrs(second)["block.name"] == FlakyBlock().name
    for span in (first, second):
        assert span.status.status_code == StatusCode.ERROR
    assert "transient failure 2" in (second.status.description or "")
    assert store.get_run(failing_id).status == RunStatus.FAILED


class Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP trace collector: keeps each export request it is sent."""

    received: ClassVar[list[tuple[str, str, bytes]]] = []
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_an_executor_with_tracing_on_exports_its_spans_by_otlp_http(
    tmp_path: Path, store: Store, flaky: None
) -> None:
    ok_id, failing_id = two_graphs(store)
    Collector.received.clear()
    with serving(Collector) as url:
        # The executor starts tracing itself, and sends what is batched when it stops.
        drain(tmp_path, tracing="otlp", otel_endpoint=f"{url}/v1/traces")
    assert Collector.received, "nothing was exported"
    exported: list[tuple[str, dict[str, Any]]] = []
    for path, content_type, body in Collector.received:
        assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            assert service["service.name"] == "agent-server-executor"
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    values = {a.key: a.value for a in span.attributes}
                    exported.append(
                        (span.name, {k: v.string_value or v.int_value for k, v in values.items()})
                    )
    runs = sorted(a["run.id"] for name, a in exported if name == "run")
    assert runs == sorted([ok_id, failing_id])
    nodes = sorted(
        (a["run.id"] == ok_id, a["node.id"], a["status"]) for name, a in exported if name != "run"
    )
    assert nodes == [
        (False, "f", "FAILED"),
        (False, "f", "RETRIED"),
        (True, "a", "COMPLETED"),
        (True, "b", "COMPLETED"),
    ]


# Stands in for an install without the tracing extra: its packages cannot be imported.
WITHOUT_TRACING = """
import sys, importlib.abc

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.startswith(("opentelemetry.sdk", "opentelemetry.exporter")):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Block())
"""


def test_without_the_tracing_packages_runs_go_on_and_asking_for_tracing_is_one_config_error(
    tmp_path: Path, store: Store
) -> None:
    graph = save_graph(
        store, "alice", chain(Node(id="a", block_id=STORE_VALUE, input_default={"input": "x"}))
    )
    run = submit_run(store, "alice", graph.id, {})
    script = (
        WITHOUT_TRACING
        + f"""
import asyncio
from pathlib import Path
from backend.errors import ConfigError
from backend.executor.manager import ExecutionManager
from tests.graphs import fast_settings

tmp = Path({str(tmp_path)!r})
asyncio.run(asyncio.wait_for(ExecutionManager(fast_settings(tmp)).serve(burst=True), 60))
assert not any(name.startswith("opentelemetry.sdk") for name in sys.modules)
try:
    asyncio.run(ExecutionManager(fast_settings(tmp, tracing="otlp")).serve(burst=True))
except ConfigError as exc:
    print("config error:", exc)
"""
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr
    assert store.get_run(run.id).status == RunStatus.COMPLETED
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("config error:")]
    assert line == (
        "config error: BACKEND_TRACING=otlp needs the OpenTelemetry packages: "
        "pip install 'agent-server[tracing]'"
    )
