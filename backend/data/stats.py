"""Aggregates the store computes for the metrics endpoint."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DurationHistogram:
    """Node execution durations of one block: cumulative counts per upper bound."""

    block_id: str
    bucket_counts: tuple[int, ...]
    count: int
    total_seconds: float
