"""Pruning expired runs batch by batch: the scheduler's side task and `agent-server prune`."""

from __future__ import annotations

import logging

from backend.data.retention import PRUNE_NODES, PRUNE_RUNS, PruneCounts
from backend.data.store import Store

logger = logging.getLogger(__name__)


def prune(
    store: Store, ended_before: float, dry_run: bool = False, max_batches: int | None = None
) -> tuple[PruneCounts, bool]:
    """Delete the runs that ended before ``ended_before`` (see data/retention.py), one
    small transaction per batch, then hand the freed space back where the database can
    (SQLite in incremental auto-vacuum mode). Returns the counts, and whether expired
    runs are left because ``max_batches`` were done. A dry run deletes nothing and
    counts what would go."""
    if dry_run:
        return store.count_prunable(ended_before), False
    total = PruneCounts()
    left = False
    batches = 0
    while True:
        if max_batches is not None and batches >= max_batches:
            left = True
            break
        pruned = store.prune_runs(ended_before, PRUNE_RUNS, PRUNE_NODES)
        batches += 1
        total += pruned
        if pruned.runs == 0:
            break
    if total.runs:
        store.reclaim_space()
        logger.info("retention deleted %s", total.describe())
    return total, left
