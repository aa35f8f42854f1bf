"""The executor's own Prometheus metrics, counted in this process as work happens.

The API's /metrics reports what the database holds (runs by status, executors alive); these
say what one executor process did: nodes it ran, retries, claims, lost leases, hand-backs,
tokens. They live in a registry of their own (not prometheus_client's global one), served
on BACKEND_EXECUTOR_METRICS_PORT + BACKEND_PROCESS_NUM, so each process of a supervisord
group has its own port and Prometheus scrapes every executor as one target.

Counters reset when the process restarts; Prometheus' rate() and increase() allow for that.
Block labels are block names (a fixed catalogue), never ids of runs or nodes, so the
number of series stays bounded.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    start_http_server,
)

from backend.blocks import get_block
from backend.data.execution import Run
from backend.errors import ConfigError
from backend.settings import Settings

logger = logging.getLogger(__name__)
PREFIX = "agent_server_executor"
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

# Nodes run from milliseconds (a calculator) to many minutes (an agent, a video).
_DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
# From a run's submission until an executor starts it: the queue's wait.
_DELAY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)

NODE_EXECUTIONS = Counter(
    f"{PREFIX}_node_executions",
    "Node executions that ended here, by block and final status (COMPLETED, FAILED).",
    ["block", "status"],
    registry=REGISTRY,
)
NODE_RETRIES = Counter(
    f"{PREFIX}_node_retries",
    "Node attempts whose block raised and that are tried again, by block.",
    ["block"],
    registry=REGISTRY,
)
NODE_DURATION = Histogram(
    f"{PREFIX}_node_duration_seconds",
    "Time one node attempt took, by block.",
    ["block"],
    buckets=_DURATION_BUCKETS,
    registry=REGISTRY,
)
RUNS_CLAIMED = Counter(
    f"{PREFIX}_runs_claimed", "Runs this executor claimed from the queue.", registry=REGISTRY
)
RUNS_FINISHED = Counter(
    f"{PREFIX}_runs_finished",
    "Runs this executor ended, by final status (COMPLETED, FAILED, TERMINATED).",
    ["status"],
    registry=REGISTRY,
)
START_DELAY = Histogram(
    f"{PREFIX}_run_start_delay_seconds",
    "From a run's submission to its first start on an executor.",
    buckets=_DELAY_BUCKETS,
    registry=REGISTRY,
)
LEASE_LOSSES = Counter(
    f"{PREFIX}_lease_losses",
    "Runs dropped because another executor took them over (this one's lease had lapsed).",
    registry=REGISTRY,
)
HAND_BACKS = Counter(
    f"{PREFIX}_run_hand_backs",
    "Runs handed back to the queue, by reason (shutdown: a stop's drain; stray: owned but "
    "not running here).",
    ["reason"],
    registry=REGISTRY,
)
LLM_TOKENS = Counter(
    f"{PREFIX}_llm_tokens",
    "LLM tokens nodes spent here, by provider, model and direction (input, output).",
    ["provider", "model", "direction"],
    registry=REGISTRY,
)
OLDEST_QUEUED_AGE = Gauge(
    f"{PREFIX}_oldest_queued_run_age_seconds",
    "Age of the oldest run waiting in the queue (0 when none waits), read every heartbeat.",
    registry=REGISTRY,
)
ACTIVE_RUNS = Gauge(
    f"{PREFIX}_active_runs", "Runs this executor is executing now.", registry=REGISTRY
)

for _status in ("COMPLETED", "FAILED", "TERMINATED"):
    # Present from the start, so a rate over them exists before the first run ends.
    RUNS_FINISHED.labels(_status)
for _reason in ("shutdown", "stray"):
    HAND_BACKS.labels(_reason)


@dataclass(frozen=True)
class NodeSeries:
    """One block's node series, looked up once: ``labels()`` takes a lock and checks the
    labels on every call, a few microseconds a node at thousands of nodes a second."""

    duration: Any
    completed: Any
    failed: Any
    retries: Any


_node_series: dict[str, NodeSeries] = {}


def node_series(block_id: str) -> NodeSeries:
    series = _node_series.get(block_id)
    if series is None:
        block = get_block(block_id)
        name = block.name if block is not None else "unknown"
        series = _node_series[block_id] = NodeSeries(
            NODE_DURATION.labels(name),
            NODE_EXECUTIONS.labels(name, "COMPLETED"),
            NODE_EXECUTIONS.labels(name, "FAILED"),
            NODE_RETRIES.labels(name),
        )
    return series


def count_tokens(stats: dict[str, Any]) -> None:
    """Count the tokens an LLM node's stats report (nothing for other nodes)."""
    if "input_tokens" not in stats and "output_tokens" not in stats:
        return
    provider, model = str(stats.get("provider", "unknown")), str(stats.get("model", "unknown"))
    for direction in ("input", "output"):
        spent = int(stats.get(f"{direction}_tokens", 0) or 0)
        if spent > 0:
            LLM_TOKENS.labels(provider, model, direction).inc(spent)


def count_claims(claimed: Sequence[Run], claimed_at: float) -> None:
    RUNS_CLAIMED.inc(len(claimed))
    for run in claimed:
        # A run keeps the started_at of its first claim: an older one means a resume.
        if run.started_at is not None and run.started_at >= claimed_at:
            START_DELAY.observe(max(0.0, run.started_at - run.created_at))


class LeaseLosses:
    """Counts each lost run once: the heartbeat sees the takeover, and the run's task may
    then fail its next write with LeaseLost too."""

    def __init__(self) -> None:
        self._counted: set[str] = set()

    def count(self, run_id: str) -> None:
        if run_id not in self._counted:
            self._counted.add(run_id)
            LEASE_LOSSES.inc()

    def forget(self, run_id: str) -> None:
        self._counted.discard(run_id)


def metrics_port(settings: Settings) -> int | None:
    """This process's port: the base setting plus its supervisord process number; None
    when the base is unset (0)."""
    if not settings.executor_metrics_port:
        return None
    port = settings.executor_metrics_port + settings.process_num
    if port > 65535:
        raise ConfigError(
            f"BACKEND_EXECUTOR_METRICS_PORT ({settings.executor_metrics_port}) + "
            f"BACKEND_PROCESS_NUM ({settings.process_num}) is above 65535"
        )
    return port


def serve_metrics(settings: Settings) -> Any:
    """Start the /metrics listener if configured; returns the server (``shutdown()`` stops
    it) or None."""
    port = metrics_port(settings)
    if port is None:
        return None
    host = settings.executor_metrics_host
    # The listener's thread starts with stop signals blocked, so SIGTERM always reaches
    # the main thread, where the executor handles it.
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        server, _ = start_http_server(port, addr=host, registry=REGISTRY)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve executor metrics on {host}:{port} (BACKEND_EXECUTOR_METRICS_HOST, "
            f"BACKEND_EXECUTOR_METRICS_PORT + process number): {exc.strerror or exc}"
        ) from None
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    logger.info("serving metrics on http://%s:%s/metrics", host, port)
    return server
