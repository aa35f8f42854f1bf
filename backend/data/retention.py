"""Retention: ended runs older than BACKEND_RETENTION_DAYS are deleted with everything
that belongs to them (node executions, events, counters, files), a small batch per
transaction so executors' writes go on in between.

A run is deleted only once it has ended (COMPLETED, FAILED, TERMINATED) before the
cutoff, and neither its parent nor any of its sub-agent runs is still live. The store
deletes (``Store.prune_runs``); ``backend.schedules.retention`` runs the batches, from
the scheduler process now and then and from ``agent-server prune`` by hand.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

from backend.settings import Settings

DAY_SECONDS = 86400.0
# One transaction deletes at most this many runs, and no more runs once it holds this
# many node executions (a single bigger run still goes, alone).
PRUNE_RUNS = 100
PRUNE_NODES = 5000


@dataclass(frozen=True)
class PruneCounts:
    """What a prune deleted, or would delete (a dry run)."""

    runs: int = 0
    node_executions: int = 0
    events: int = 0
    files: int = 0

    def __add__(self, other: PruneCounts) -> PruneCounts:
        return PruneCounts(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    def describe(self) -> str:
        return (
            f"{self.runs} runs, {self.node_executions} node executions, "
            f"{self.events} events, {self.files} files"
        )


def retention_cutoff(days: float, now: float | None = None) -> float | None:
    """Runs that ended before this are expired; None when ``days`` is 0 (keep forever)."""
    if days <= 0:
        return None
    return (time.time() if now is None else now) - days * DAY_SECONDS


def settings_cutoff(settings: Settings, now: float | None = None) -> float | None:
    return retention_cutoff(settings.retention_days, now)
