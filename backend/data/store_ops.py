"""The operators' part of the store interface: retention, health and metrics.

``Store`` (store.py) extends it; callers name ``Store``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from backend.data.retention import PruneCounts
from backend.data.stats import DurationHistogram


class OperationsStore(ABC):
    # -- retention -------------------------------------------------------------------------

    @abstractmethod
    def prune_runs(self, ended_before: float, max_runs: int, max_nodes: int) -> PruneCounts:
        """Delete, in ONE transaction, up to ``max_runs`` of the runs that ended before
        ``ended_before`` whose parent and sub-agent runs have all ended too, oldest first,
        with their node executions, events, counters and files; no further run once
        ``max_nodes`` node executions are taken (the first always goes). Never a queued,
        running or otherwise live run."""

    @abstractmethod
    def count_prunable(self, ended_before: float) -> PruneCounts:
        """What ``prune_runs`` repeated until nothing is left would delete; a read."""

    @abstractmethod
    def reclaim_space(self) -> None:
        """Hand space freed by deletes back to the file system, where the database does
        not do it by itself."""

    # -- health and metrics ----------------------------------------------------------------

    @abstractmethod
    def schema_is_current(self) -> bool:
        """True when the schema is at this code's head; StoreError when unreachable."""

    @abstractmethod
    def count_runs_by_status(self) -> dict[str, int]: ...

    @abstractmethod
    def oldest_queued_at(self) -> float | None:
        """When the oldest run still waiting in the queue (QUEUED) was submitted; None
        when none waits. One index read."""

    @abstractmethod
    def llm_usage(self) -> list[dict[str, Any]]:
        """LLM tokens spent since the database was created: one row per provider and
        model with input_tokens, output_tokens and calls."""

    @abstractmethod
    def node_duration_histograms(self) -> list[DurationHistogram]:
        """Per block, durations of the node executions that ended since the database was
        created (or upgraded to counters), in the buckets of ``stats.DURATION_BOUNDS``."""
