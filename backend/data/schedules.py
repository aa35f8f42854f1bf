"""Stored schedules: the record the store keeps, the misfire policies, and the
compare-and-set a scheduler fires a slot with.

The store knows a schedule's cron expression and timezone only as text; what they mean
(the fire times) is the scheduler's business (backend/schedules/cron.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class MisfirePolicy(StrEnum):
    """What happens to slots a scheduler woke up too late for (a stopped VM, a long
    pause): later than the misfire grace after their time. Slots within the grace
    always fire, each."""

    SKIP = "skip"  # missed slots never run
    ONCE = "once"  # one run stands for every missed slot (the latest one)
    EACH = "each"  # every missed slot runs, the most recent ones up to a bound


@dataclass(frozen=True)
class ScheduleRecord:
    id: str
    user_id: str
    graph_id: str
    graph_version: int | None
    cron: str
    timezone: str
    next_fire_at: float
    created_at: float
    updated_at: float
    name: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    misfire: MisfirePolicy = MisfirePolicy.ONCE
    last_slot_at: float | None = None
    last_run_id: str | None = None
    last_error: str | None = None
    revision: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "graph_id": self.graph_id,
            "graph_version": self.graph_version,
            "cron": self.cron,
            "timezone": self.timezone,
            "inputs": self.inputs,
            "enabled": self.enabled,
            "misfire_policy": self.misfire.value,
            "next_fire_at": self.next_fire_at,
            "last_slot_at": self.last_slot_at,
            "last_run_id": self.last_run_id,
            "last_error": self.last_error,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class ScheduleAdvance:
    """Move a schedule on past ``slot`` (or past missed slots, ``slot`` None), if nobody
    wrote it since the scheduler read it at ``revision``. With a run, in the run's own
    transaction: the slot fires exactly when its schedule moves on."""

    schedule_id: str
    revision: int
    next_fire_at: float
    now: float
    slot: float | None = None
    error: str | None = None
    # The schedule cannot fire any more (its graph is gone): it is paused.
    disable: bool = False
