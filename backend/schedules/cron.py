"""Cron expressions in an IANA timezone: a ``Schedule`` is parsed once, where a user's text
arrives (API, CLI), and answers when it fires. Every method is a pure function of its
arguments; times are epoch seconds.

Parsing and matching are cronsim's, which follows Debian's cron, DST quirks included:

* five fields (minute hour day month weekday) or six with seconds first;
* a job at a fixed wall-clock time (neither minute nor hour is ``*``...): a time that a
  spring-forward gap skips fires at the first minute after the gap; a time that a
  fall-back repeats fires once, at its first occurrence;
* a job that runs more often (``*/15 * * * *``, ``0 * * * *``) matches real time:
  it fires in every hour that exists, both copies of a repeated hour included.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from backend.errors import InvalidInput

MAX_CRON_CHARS = 255
# A match after ``after`` in wall-clock time can still lie before it in real time (the
# repeated hour of a fall-back); these many candidates are tried before giving up.
_MAX_CANDIDATES = 1000
# How far back ``recent`` first looks for slots; it widens by this factor as needed.
_FIRST_SPAN_SECONDS = 60.0
_SPAN_GROWTH = 16.0


@dataclass(frozen=True)
class Schedule:
    cron: str
    timezone: str
    zone: ZoneInfo = field(compare=False, repr=False)

    @classmethod
    def parse(cls, cron: str, timezone: str = "UTC") -> Schedule:
        """InvalidInput naming the field when the expression or the zone is unusable, or
        when the expression never fires."""
        text = " ".join(cron.split())
        if not text or len(text) > MAX_CRON_CHARS:
            raise InvalidInput(f"cron expression must be 1 to {MAX_CRON_CHARS} characters")
        if len(text.split()) not in (5, 6):
            raise InvalidInput(
                f"cron expression {text!r} needs 5 fields (minute hour day month weekday) "
                "or 6 (seconds first)"
            )
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(
                f"unknown timezone {timezone!r}: use an IANA name such as Europe/Berlin or UTC"
            ) from None
        try:
            CronSim(text, datetime(2000, 1, 1, tzinfo=zone))
        except CronSimError as exc:
            raise InvalidInput(f"cron expression {text!r} is invalid: {exc}") from None
        schedule = cls(text, timezone, zone)
        # cronsim gives up after 50 years without a match ("30 2 31 2 *").
        if schedule.next_fire(datetime.now(zone).timestamp()) is None:
            raise InvalidInput(f"cron expression {text!r} never fires")
        return schedule

    def next_fire(self, after: float) -> float | None:
        """The first fire time strictly after ``after``; None if there is none within
        50 years."""
        it = CronSim(self.cron, datetime.fromtimestamp(after, self.zone))
        for _ in range(_MAX_CANDIDATES):
            try:
                candidate = next(it).timestamp()
            except StopIteration:
                return None
            if candidate > after:
                return candidate
        return None

    def fire_times(self, after: float, count: int) -> list[float]:
        """The next ``count`` fire times after ``after``."""
        times: list[float] = []
        current = self.next_fire(after)
        while current is not None and len(times) < count:
            times.append(current)
            current = self.next_fire(current)
        return times

    def recent(self, start: float, end: float, count: int) -> list[float]:
        """The last ``count`` fire times in [start, end], oldest first.

        Found walking forward (never backward, so the same times as ``next_fire``) from
        a point shortly before ``end``, moved back until it holds enough of them: a
        schedule stopped for a year costs a few windows, not a year of slots.
        """
        if count <= 0 or end < start:
            return []
        span = _FIRST_SPAN_SECONDS
        while True:
            lower = max(start, end - span)
            found: deque[float] = deque(maxlen=count)
            # Fire times are whole seconds: one second back makes ``lower`` inclusive.
            current = self.next_fire(lower - 1)
            while current is not None and current <= end:
                if current >= lower:
                    found.append(current)
                current = self.next_fire(current)
            if len(found) == count or lower <= start:
                return list(found)
            span *= _SPAN_GROWTH

    def describe(self) -> str:
        """A sentence such as "Every 15th minute of every hour"."""
        return CronSim(self.cron, datetime.now(self.zone)).explain()

    def local_iso(self, timestamp: float) -> str:
        """``timestamp`` as ISO 8601 text in the schedule's timezone (with its offset)."""
        return datetime.fromtimestamp(timestamp, self.zone).isoformat()
