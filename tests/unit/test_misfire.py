"""Which slots fire after a scheduler was away: a minutely schedule whose scheduler was
stopped for 5 minutes, under each misfire policy (a clock we set, no sleeping)."""

from __future__ import annotations

from backend.data.schedules import MisfirePolicy
from backend.schedules.cron import Schedule
from backend.schedules.misfire import Step, plan

MINUTELY = Schedule.parse("* * * * *", "UTC")
T0 = 1_800_000_000.0 - 1_800_000_000.0 % 60  # a whole minute
GRACE = 60.0


def after_stop(policy: MisfirePolicy, max_catchup: int = 100, grace: float = GRACE) -> list[Step]:
    # Due since T0; the scheduler comes back 5 minutes and 20 seconds later.
    return plan(MINUTELY, T0, T0 + 320, policy, grace, max_catchup)


def slots(steps: list[Step]) -> list[float | None]:
    return [step.slot for step in steps]


def test_nothing_due_nothing_to_do() -> None:
    assert plan(MINUTELY, T0 + 60, T0 + 30, MisfirePolicy.EACH, GRACE, 100) == []


def test_an_on_time_slot_fires_under_every_policy() -> None:
    for policy in MisfirePolicy:
        assert plan(MINUTELY, T0, T0 + 2, policy, GRACE, 100) == [Step(T0, T0 + 60)]


def test_skip_fires_only_the_slot_within_the_grace() -> None:
    # T0 .. T0+240 are more than 60 s late; T0+300 is 20 s late.
    assert after_stop(MisfirePolicy.SKIP) == [Step(T0 + 300, T0 + 360)]


def test_skip_with_nothing_on_time_only_moves_on() -> None:
    assert after_stop(MisfirePolicy.SKIP, grace=10) == [Step(None, T0 + 360)]


def test_once_fires_one_run_for_all_missed_slots_then_the_on_time_one() -> None:
    assert after_stop(MisfirePolicy.ONCE) == [Step(T0 + 240, T0 + 300), Step(T0 + 300, T0 + 360)]
    assert after_stop(MisfirePolicy.ONCE, grace=10) == [Step(T0 + 300, T0 + 360)]


def test_each_fires_every_missed_slot_in_order() -> None:
    steps = after_stop(MisfirePolicy.EACH)
    assert slots(steps) == [T0 + 60 * i for i in range(6)]
    # Every step moves the schedule to the slot after it: a crash between two steps
    # leaves the rest due and planned the same way again.
    assert [s.next_fire_at for s in steps] == [T0 + 60 * i for i in range(1, 7)]
    assert plan(MINUTELY, T0 + 180, T0 + 320, MisfirePolicy.EACH, GRACE, 100) == steps[3:]


def test_each_is_bounded_to_the_most_recent_slots() -> None:
    assert slots(after_stop(MisfirePolicy.EACH, max_catchup=2)) == [T0 + 240, T0 + 300]


def test_a_year_away_costs_a_few_windows_not_a_year_of_slots() -> None:
    every_second = Schedule.parse("* * * * * *", "UTC")
    year = 365 * 86400.0
    steps = plan(every_second, T0, T0 + year, MisfirePolicy.EACH, 0, 3)
    assert slots(steps) == [T0 + year - 2, T0 + year - 1, T0 + year]
