"""Which slots a schedule fires when a scheduler looks at it: a pure function of the
schedule, its stored next fire time, the time now and the policy.

A slot is *due* once its time has come (``next_fire_at <= slot <= now``). A due slot at
most ``grace`` seconds old is on time and fires. Older ones were *missed* (the scheduler
was stopped, the VM suspended, a pause too long) and follow the policy: skipped, fired
once for all of them (as the latest), or each fired, the most recent ``max_catchup``.

Each step fires one slot and moves the schedule to the slot after it, in one
transaction: a scheduler killed between two steps finds the rest still due, and plans
them the same way again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from backend.data.schedules import MisfirePolicy
from backend.schedules.cron import Schedule


@dataclass(frozen=True)
class Step:
    slot: float | None  # None: nothing fires, the schedule only moves on
    next_fire_at: float | None  # None: the schedule never fires again


def plan(
    schedule: Schedule,
    next_fire_at: float,
    now: float,
    policy: MisfirePolicy,
    grace: float,
    max_catchup: int,
) -> list[Step]:
    """The steps to take now, in order; empty when nothing is due."""
    if next_fire_at > now:
        return []
    on_time_from = max(next_fire_at, now - grace)
    if policy == MisfirePolicy.EACH:
        slots = schedule.recent(next_fire_at, now, max_catchup)
    else:
        slots = schedule.recent(on_time_from, now, max_catchup)
        if policy == MisfirePolicy.ONCE and next_fire_at < on_time_from:
            missed_until = math.nextafter(on_time_from, -math.inf)
            slots = schedule.recent(next_fire_at, missed_until, 1) + slots
    if not slots:
        return [Step(None, schedule.next_fire(now))]
    return [Step(slot, schedule.next_fire(slot)) for slot in slots]
