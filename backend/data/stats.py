"""Aggregates the store keeps for run views and the metrics endpoint."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

# Upper bounds (seconds) of the node duration histogram. The store counts durations into
# these buckets as nodes finish: changing them needs a migration that resets the counts.
DURATION_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


def duration_bucket(seconds: float) -> int:
    """The index of the first bound at or above ``seconds``; len(bounds) above them all."""
    return bisect.bisect_left(DURATION_BOUNDS, seconds)


@dataclass(frozen=True)
class DurationHistogram:
    """Node execution durations of one block: cumulative counts per upper bound."""

    block_id: str
    bucket_counts: tuple[int, ...]
    count: int
    total_seconds: float


@dataclass(frozen=True)
class ModelUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    llm_calls: int = 0


@dataclass(frozen=True)
class RunStats:
    """What a run view shows of its node executions, read from counters."""

    status_counts: dict[str, int] = field(default_factory=dict)
    attempts: int = 0
    models: dict[str, ModelUsage] = field(default_factory=dict)

    @property
    def node_executions(self) -> int:
        return sum(self.status_counts.values())
