"""Cron expressions in timezones: fire times, DST gaps and repeats, parse errors."""

from __future__ import annotations

import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from backend.errors import InvalidInput
from backend.schedules.cron import Schedule

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def ts(zone: ZoneInfo, *parts: int, fold: int = 0) -> float:
    return datetime(*parts, tzinfo=zone, fold=fold).timestamp()  # type: ignore[misc]


def local(schedule: Schedule, times: list[float]) -> list[str]:
    return [datetime.fromtimestamp(t, schedule.zone).strftime("%m-%d %H:%M %Z") for t in times]


def test_every_fifteen_minutes_in_utc() -> None:
    schedule = Schedule.parse("*/15 * * * *", "UTC")
    start = ts(ZoneInfo("UTC"), 2026, 1, 1, 10, 7)
    assert local(schedule, schedule.fire_times(start, 5)) == [
        "01-01 10:15 UTC",
        "01-01 10:30 UTC",
        "01-01 10:45 UTC",
        "01-01 11:00 UTC",
        "01-01 11:15 UTC",
    ]


def test_next_fire_is_strictly_after() -> None:
    schedule = Schedule.parse("0 9 * * *", "Europe/Berlin")
    nine = ts(BERLIN, 2026, 6, 1, 9, 0)
    assert schedule.next_fire(nine - 0.5) == nine
    assert schedule.next_fire(nine) == nine + 86400


def test_daily_job_in_the_users_timezone_keeps_its_wall_clock_time_across_dst() -> None:
    schedule = Schedule.parse("0 9 * * *", "Europe/Berlin")
    times = schedule.fire_times(ts(BERLIN, 2026, 3, 28, 12, 0), 3)
    assert local(schedule, times) == ["03-29 09:00 CEST", "03-30 09:00 CEST", "03-31 09:00 CEST"]
    # The day the clocks move is 23 hours long.
    assert times[0] - ts(BERLIN, 2026, 3, 28, 9, 0) == 23 * 3600


def test_fixed_time_in_the_spring_gap_fires_right_after_the_gap() -> None:
    schedule = Schedule.parse("30 2 * * *", "Europe/Berlin")
    times = schedule.fire_times(ts(BERLIN, 2026, 3, 28, 12, 0), 2)
    # 02:30 does not exist on 29 March 2026: it fires at 03:00, then at 02:30 again.
    assert local(schedule, times) == ["03-29 03:00 CEST", "03-30 02:30 CEST"]


def test_fixed_time_in_the_repeated_autumn_hour_fires_once() -> None:
    schedule = Schedule.parse("30 2 * * *", "Europe/Berlin")
    times = schedule.fire_times(ts(BERLIN, 2026, 10, 24, 12, 0), 2)
    assert local(schedule, times) == ["10-25 02:30 CEST", "10-26 02:30 CET"]
    # Asked from inside the second 02:xx hour, it does not fire the first one again.
    second = ts(BERLIN, 2026, 10, 25, 2, 45, fold=1)
    assert local(schedule, [schedule.next_fire(second) or 0]) == ["10-26 02:30 CET"]


def test_frequent_job_runs_in_both_copies_of_the_repeated_hour() -> None:
    schedule = Schedule.parse("*/30 * * * *", "America/New_York")
    times = schedule.fire_times(ts(NEW_YORK, 2026, 11, 1, 0, 45), 5)
    assert local(schedule, times) == [
        "11-01 01:00 EDT",
        "11-01 01:30 EDT",
        "11-01 01:00 EST",
        "11-01 01:30 EST",
        "11-01 02:00 EST",
    ]
    assert all(b - a == 1800 for a, b in itertools.pairwise(times))


def test_six_fields_have_seconds_first() -> None:
    schedule = Schedule.parse("*/20 * * * * *", "UTC")
    assert schedule.fire_times(100.0, 3) == [120.0, 140.0, 160.0]


def test_recent_walks_forward_and_finds_the_latest_slots_of_a_long_gap() -> None:
    schedule = Schedule.parse("* * * * * *", "UTC")
    year = 365 * 86400.0
    assert schedule.recent(1000.0, 1000.0 + year, 3) == [
        998.0 + year,
        999.0 + year,
        1000.0 + year,
    ]
    assert schedule.recent(10.0, 12.0, 10) == [10.0, 11.0, 12.0]
    assert schedule.recent(10.5, 12.0, 10) == [11.0, 12.0]


@pytest.mark.parametrize(
    ("cron", "zone", "message"),
    [
        ("", "UTC", "1 to 255 characters"),
        ("* * *", "UTC", "needs 5 fields"),
        ("61 * * * *", "UTC", "invalid"),
        ("* * * * *", "Mars/Olympus", "unknown timezone"),
        ("* * * * *", "../../etc/passwd", "unknown timezone"),
        ("0 0 30 2 *", "UTC", "invalid"),
    ],
)
def test_bad_expressions_and_zones_are_refused_with_a_reason(
    cron: str, zone: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        Schedule.parse(cron, zone)


def test_describe_says_it_in_words() -> None:
    assert Schedule.parse("*/15 * * * *").describe() == "Every 15th minute of every hour"
