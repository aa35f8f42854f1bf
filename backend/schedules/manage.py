"""Creating and changing schedules on behalf of a user (the REST API's schedule routes),
and the schedule an imported AutoGPT agent recommends.

Everything a user gives is checked here, once: the cron expression and timezone (parsed
into a ``Schedule``), the graph (theirs, not deleted), and the inputs (a run of the graph
with them could start). The next fire time is computed from now, so a schedule created,
changed or resumed never fires slots from before that moment.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

from backend.data.graph import Graph
from backend.data.schedules import MisfirePolicy, ScheduleRecord
from backend.data.store import Store
from backend.errors import InvalidInput
from backend.executor.limits import Limits
from backend.executor.submit import check_submittable, load_live_graph
from backend.schedules.cron import Schedule

# Fire times a schedule's view shows (the CLI prints them in the schedule's timezone).
SHOWN_FIRE_TIMES = 5
MAX_SCHEDULES_PER_USER = 1000


@dataclass(frozen=True)
class ScheduleSpec:
    """What a user asks for; None leaves a field as it is (on update)."""

    cron: str | None = None
    timezone: str | None = None
    inputs: dict[str, Any] | None = None
    name: str | None = None
    misfire: MisfirePolicy | None = None
    enabled: bool | None = None
    # 0: the graph's active version when a slot fires ("latest"); None: unchanged.
    graph_version: int | None = None


def _check(store: Store, record: ScheduleRecord, limits: Limits) -> Schedule:
    schedule = Schedule.parse(record.cron, record.timezone)
    graph = load_live_graph(store, record.user_id, record.graph_id, record.graph_version)
    check_submittable(store, record.user_id, graph, record.inputs, None, limits, {}, None)
    return schedule


def create_schedule(
    store: Store, user_id: str, graph_id: str, spec: ScheduleSpec, limits: Limits
) -> ScheduleRecord:
    if len(store.list_schedules(user_id)) >= MAX_SCHEDULES_PER_USER:
        raise InvalidInput(f"a user may have at most {MAX_SCHEDULES_PER_USER} schedules")
    if spec.cron is None:
        raise InvalidInput("a schedule needs a cron expression")
    now = time.time()
    record = ScheduleRecord(
        id=str(uuid.uuid4()),
        user_id=user_id,
        graph_id=graph_id,
        graph_version=spec.graph_version or None,
        cron=spec.cron,
        timezone=spec.timezone or "UTC",
        next_fire_at=now,
        created_at=now,
        updated_at=now,
        name=spec.name or "",
        inputs=spec.inputs or {},
        enabled=True if spec.enabled is None else spec.enabled,
        misfire=spec.misfire or MisfirePolicy.ONCE,
    )
    record = _with_next_fire(record, _check(store, record, limits), now)
    store.create_schedule(record)
    return record


def update_schedule(
    store: Store, record: ScheduleRecord, spec: ScheduleSpec, limits: Limits
) -> ScheduleRecord:
    now = time.time()
    changes: dict[str, Any] = {
        name: value
        for name, value in (
            ("cron", spec.cron),
            ("timezone", spec.timezone),
            ("inputs", spec.inputs),
            ("name", spec.name),
            ("misfire", spec.misfire),
            ("enabled", spec.enabled),
        )
        if value is not None
    }
    if spec.graph_version is not None:
        changes["graph_version"] = spec.graph_version or None
    updated = replace(record, **changes, updated_at=now, last_error=None)
    schedule = _check(store, updated, limits)
    if {"cron", "timezone"} & changes.keys() or (updated.enabled and not record.enabled):
        # Changed or resumed: it fires from now on, never the slots it was paused over.
        updated = _with_next_fire(updated, schedule, now)
    return store.update_schedule(updated)


def _with_next_fire(record: ScheduleRecord, schedule: Schedule, now: float) -> ScheduleRecord:
    next_fire = schedule.next_fire(now)
    if next_fire is None:
        raise InvalidInput(f"cron expression {record.cron!r} never fires again")
    return replace(record, cron=schedule.cron, next_fire_at=next_fire)


def schedule_view(record: ScheduleRecord) -> dict[str, Any]:
    """The API's view: the record, what the expression means, and the next fire times
    (ISO 8601 in the schedule's timezone; none while paused)."""
    schedule = Schedule.parse(record.cron, record.timezone)
    upcoming = (
        schedule.fire_times(record.next_fire_at - 1, SHOWN_FIRE_TIMES) if record.enabled else []
    )
    return {
        **record.to_dict(),
        "description": schedule.describe(),
        "next_fire_times": [schedule.local_iso(t) for t in upcoming],
    }


def suggested_schedule(graph: Graph) -> dict[str, Any] | None:
    """What an imported agent's ``recommended_schedule_cron`` means, to offer the user a
    schedule; None when it has none. Nothing is scheduled by importing."""
    cron = graph.recommended_schedule_cron
    if cron is None:
        return None
    try:
        schedule = Schedule.parse(cron, "UTC")
    except InvalidInput as exc:
        return {"cron": cron, "valid": False, "problem": exc.message}
    upcoming = schedule.fire_times(time.time(), SHOWN_FIRE_TIMES)
    return {
        "cron": schedule.cron,
        "valid": True,
        "description": schedule.describe(),
        "next_fire_times_utc": [schedule.local_iso(t) for t in upcoming],
        "how": f"POST /api/v1/schedules with graph_id {graph.id} and this cron, or "
        f"`agent-server schedule add {graph.id} --cron '{schedule.cron}'`",
    }
