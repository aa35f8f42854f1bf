"""Counters added in the transaction that writes finished node executions: LLM tokens
per provider and model, per run and model, and node durations per block and bucket.

Node counts by status are not here: triggers on node_executions keep them (0008).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from backend.data import schema as t
from backend.data.execution import NodeExecution, NodeStatus
from backend.data.sqlbase import Prepared
from backend.data.stats import duration_bucket

_PROGRESS = frozenset({NodeStatus.COMPLETED, NodeStatus.FAILED})
Insert = Callable[[sa.Table], Any]


def llm_usage_rows(nodes: Iterable[NodeExecution]) -> list[dict[str, Any]]:
    """Token totals to add for the finished nodes that called a model, per model."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for ne in nodes:
        stats = ne.stats
        if ne.status not in _PROGRESS or not stats.get("model"):
            continue
        key = (str(stats.get("provider", "")), str(stats["model"]))
        row = totals.setdefault(
            key,
            {
                "provider": key[0],
                "model": key[1],
                "input_tokens": 0,
                "output_tokens": 0,
                "calls": 0,
            },
        )
        row["input_tokens"] += int(stats.get("input_tokens", 0))
        row["output_tokens"] += int(stats.get("output_tokens", 0))
        row["calls"] += int(stats.get("llm_calls", 1))
    return list(totals.values())


def run_usage_rows(nodes: Iterable[NodeExecution]) -> list[dict[str, Any]]:
    """Per run and model, the tokens and calls the finished nodes reported."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for ne in nodes:
        if ne.status not in _PROGRESS or not ne.stats.get("model"):
            continue
        key = (ne.run_id, str(ne.stats["model"]))
        row = totals.setdefault(
            key,
            {"run_id": key[0], "model": key[1], "input_tokens": 0, "output_tokens": 0},
        )
        for name in ("input_tokens", "output_tokens", "llm_calls"):
            row[name] = row.get(name, 0) + int(ne.stats.get(name, 0))
    return list(totals.values())


def duration_rows(nodes: Iterable[NodeExecution]) -> list[dict[str, Any]]:
    """Per block and duration bucket, the node executions that ended timed."""
    totals: dict[tuple[str, int], dict[str, Any]] = {}
    for ne in nodes:
        if not ne.status.is_final or ne.started_at is None or ne.ended_at is None:
            continue
        seconds = ne.ended_at - ne.started_at
        key = (ne.block_id, duration_bucket(seconds))
        row = totals.setdefault(
            key, {"block_id": key[0], "bucket": key[1], "executions": 0, "total_seconds": 0.0}
        )
        row["executions"] += 1
        row["total_seconds"] += seconds
    return list(totals.values())


class Counters:
    """The counter upserts, compiled once per store: a finished node is on the hot path
    of every run, and building the statements cost more than the database's work."""

    def __init__(self, engine: sa.Engine, insert: Insert, json_dumps: Callable[[Any], str]) -> None:
        self._llm = _upsert(engine, insert, t.llm_usage, json_dumps)
        self._run_llm = _upsert(engine, insert, t.run_llm_usage, json_dumps)
        self._durations = _upsert(engine, insert, t.node_durations, json_dumps)

    def finished_batches(self, nodes: Sequence[NodeExecution]) -> list[tuple[Prepared, Any]]:
        """The counter upserts of the finished ones of ``nodes``, for ``insert_rows``."""
        if not any(ne.status.is_final for ne in nodes):
            return []
        batches = (
            (self._llm, llm_usage_rows(nodes)),
            (self._run_llm, run_usage_rows(nodes)),
            (self._durations, duration_rows(nodes)),
        )
        return [(upsert, rows) for upsert, rows in batches if rows]


def _upsert(
    engine: sa.Engine, insert: Insert, table: sa.Table, json_dumps: Callable[[Any], str]
) -> Prepared:
    """Add a row's numbers to the counter its primary key names (creating it)."""
    keys = sorted(c.name for c in table.primary_key)
    stmt = insert(table)
    upsert = stmt.on_conflict_do_update(
        index_elements=keys,
        set_={c.name: c + stmt.excluded[c.name] for c in table.c if c.name not in keys},
    )
    return Prepared(engine, upsert, [c.name for c in table.c], json_dumps)
