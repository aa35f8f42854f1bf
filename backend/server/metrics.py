"""Prometheus text exposition: the store's numbers, computed at scrape time, and this
API process's request metrics.

The store's numbers come from the database, so they are the same whichever API instance
is scraped and survive restarts. Each is a read of counters or an indexed count, so a
scrape costs the same however many node executions the database holds. The request
metrics (``agent_server_http_*``) are counted in this process by the access middleware
(backend/server/access.py) and start from zero when it restarts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from backend.blocks import get_block
from backend.data.execution import RunStatus
from backend.data.stats import DURATION_BOUNDS
from backend.data.store import Store
from backend.settings import Settings

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_PREFIX = "agent_server"

HTTP_REGISTRY = CollectorRegistry(auto_describe=True)
HTTP_REQUESTS = Counter(
    f"{_PREFIX}_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
    registry=HTTP_REGISTRY,
)
HTTP_DURATION = Histogram(
    f"{_PREFIX}_http_request_duration_seconds",
    "Time to answer an HTTP request (an event stream: until it ended), by method and route "
    "template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=HTTP_REGISTRY,
)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{name}="{_label(value)}"' for name, value in pairs)
    return "{" + inner + "}" if inner else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _family(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {_PREFIX}_{name} {help_text}", f"# TYPE {_PREFIX}_{name} {kind}"]


def render_metrics(store: Store, settings: Settings) -> str:
    lines: list[str] = []
    counts = store.count_runs_by_status()
    lines += _family("runs", "gauge", "Graph runs in the database by status.")
    for status in RunStatus:
        lines.append(
            f"{_PREFIX}_runs{_labels([('status', status.value)])} {counts.get(status.value, 0)}"
        )
    lines += _family("queue_depth", "gauge", "Runs waiting for an executor (QUEUED).")
    lines.append(f"{_PREFIX}_queue_depth {counts.get(RunStatus.QUEUED.value, 0)}")

    now = time.time()
    alive = sum(
        1
        for ex in store.list_executors()
        if ex.state == "RUNNING" and now - ex.heartbeat_at <= settings.lease_seconds
    )
    lines += _family(
        "executors_alive", "gauge", "Executors that heartbeated within the lease period."
    )
    lines.append(f"{_PREFIX}_executors_alive {alive}")

    usage = store.llm_usage()
    lines += _family("llm_tokens_total", "counter", "LLM tokens spent, by provider and model.")
    for row in usage:
        for direction in ("input", "output"):
            labels = _labels(
                [("provider", row["provider"]), ("model", row["model"]), ("direction", direction)]
            )
            lines.append(f"{_PREFIX}_llm_tokens_total{labels} {row[f'{direction}_tokens']}")
    lines += _family("llm_calls_total", "counter", "LLM calls, by provider and model.")
    for row in usage:
        labels = _labels([("provider", row["provider"]), ("model", row["model"])])
        lines.append(f"{_PREFIX}_llm_calls_total{labels} {row['calls']}")

    name = "node_execution_duration_seconds"
    lines += _family(
        name, "histogram", "Node execution durations by block, since the database was created."
    )
    for hist in store.node_duration_histograms():
        block = get_block(hist.block_id)
        base = [("block_id", hist.block_id), ("block", block.name if block else "unknown")]
        for bound, count in zip(DURATION_BOUNDS, hist.bucket_counts, strict=True):
            lines.append(
                f"{_PREFIX}_{name}_bucket{_labels([*base, ('le', _number(bound))])} {count}"
            )
        lines.append(f"{_PREFIX}_{name}_bucket{_labels([*base, ('le', '+Inf')])} {hist.count}")
        lines.append(f"{_PREFIX}_{name}_sum{_labels(base)} {_number(hist.total_seconds)}")
        lines.append(f"{_PREFIX}_{name}_count{_labels(base)} {hist.count}")
    return "\n".join(lines) + "\n" + generate_latest(HTTP_REGISTRY).decode()
