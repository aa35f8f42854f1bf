"""The limits a run's nodes execute under, and the checks that enforce the size limits.

Graph authors are untrusted, so every output is measured before anything is stored: a
value is measured as the JSON text the store would write for it. Time limits are the
runner's (and the worker pool's); retries have their own module (retries.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from backend.providers.egress import DIRECT, Egress
from backend.settings import Settings


class NodeFailed(Exception):
    """A failure that retrying cannot fix (error pin, bad input, time or size limit).

    ``stats`` are what the block reported before it failed (an LLM call's tokens are
    spent even when its answer was unusable)."""

    def __init__(self, message: str, stats: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.stats = stats or {}


class LimitExceeded(NodeFailed):
    """A node or run went past one of the limits below."""


@dataclass(frozen=True)
class Limits:
    node_workers: int = 4
    node_timeout_seconds: float = 300.0
    max_node_timeout_seconds: float = 3600.0
    max_attempts: int = 1
    retry_backoff_seconds: float = 1.0
    retry_backoff_max_seconds: float = 60.0
    run_deadline_seconds: float = 3600.0
    max_run_deadline_seconds: float = 86400.0
    allow_private_network: bool = False
    egress: Egress = DIRECT
    max_output_value_bytes: int = 4 * 1024 * 1024
    max_node_output_bytes: int = 16 * 1024 * 1024
    max_run_stored_bytes: int = 256 * 1024 * 1024
    max_node_executions_per_run: int = 20_000
    max_tokens_per_run: int = 0  # 0: no budget unless the run sets one
    max_agent_depth: int = 8

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            node_workers=settings.num_node_workers,
            node_timeout_seconds=settings.node_timeout_seconds,
            max_node_timeout_seconds=settings.max_node_timeout_seconds,
            max_attempts=settings.node_max_attempts,
            retry_backoff_seconds=settings.retry_backoff_seconds,
            retry_backoff_max_seconds=settings.retry_backoff_max_seconds,
            run_deadline_seconds=settings.run_deadline_seconds,
            max_run_deadline_seconds=settings.max_run_deadline_seconds,
            allow_private_network=settings.allow_private_network,
            egress=Egress.from_settings(settings),
            max_output_value_bytes=settings.max_output_value_bytes,
            max_node_output_bytes=settings.max_node_output_bytes,
            max_run_stored_bytes=settings.max_run_stored_bytes,
            max_node_executions_per_run=settings.max_node_executions_per_run,
            max_tokens_per_run=settings.max_tokens_per_run,
            max_agent_depth=settings.max_agent_depth,
        )

    def output_budget(self) -> OutputBudget:
        return OutputBudget(self.max_output_value_bytes, self.max_node_output_bytes)


# What json.dumps(value, default=str) would build on every call (it only reuses its
# encoder when given no options); an encoder keeps no state between calls.
_ENCODER = json.JSONEncoder(default=str)


def stored_size(value: Any) -> int:
    """``value``'s size as JSON text, ASCII-escaped: never below what the store writes
    for it (compact, non-ASCII text as UTF-8), so the limits it checks stay safe."""
    return len(_ENCODER.encode(value))


class OutputBudget:
    """Counts one node execution's outputs as they are produced and stops the node the
    moment one value, or all of them together, would be larger than allowed."""

    def __init__(self, max_value_bytes: int, max_total_bytes: int) -> None:
        self.max_value_bytes = max_value_bytes
        self.max_total_bytes = max_total_bytes
        self.total = 0

    def add(self, pin: str, value: Any) -> None:
        size = stored_size(value)
        if size > self.max_value_bytes:
            raise LimitExceeded(
                f"output {pin!r} is {size} bytes, over the limit of {self.max_value_bytes} "
                "bytes per value (BACKEND_MAX_OUTPUT_VALUE_BYTES)"
            )
        self.total += size + len(pin)
        if self.total > self.max_total_bytes:
            raise LimitExceeded(
                f"outputs exceed the limit of {self.max_total_bytes} bytes per node execution "
                "(BACKEND_MAX_NODE_OUTPUT_BYTES)"
            )
