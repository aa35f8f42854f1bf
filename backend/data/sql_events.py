"""Reading the event log: one run's events in order, or several runs' at once (the
API's live streams, read by one poller per process)."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from backend.data import schema as t
from backend.data.execution import Event
from backend.data.sqlbase import SQLBase

# Runs named in one statement of events_after; more are read in several.
RUNS_PER_QUERY = 200


class EventsMixin(SQLBase):
    def events(self, run_id: str, after_id: int = 0, limit: int = 1000) -> list[Event]:
        ev = t.execution_events
        with self.read() as conn:
            rows = conn.execute(
                sa.select(ev)
                .where(ev.c.run_id == run_id, ev.c.id > after_id)
                .order_by(ev.c.id)
                .limit(limit)
            )
            return [_event(row) for row in rows]

    def events_after(self, positions: Mapping[str, int], limit: int = 1000) -> list[Event]:
        ev = t.execution_events
        items = list(positions.items())
        found: list[Event] = []
        with self.read() as conn:
            for i in range(0, len(items), RUNS_PER_QUERY):
                group = dict(items[i : i + RUNS_PER_QUERY])
                # First the newest event of each run: mostly nothing is new, and this is
                # one cheap index probe per run.
                newest = conn.execute(
                    sa.select(ev.c.run_id, sa.func.max(ev.c.id))
                    .where(ev.c.run_id.in_(list(group)))
                    .group_by(ev.c.run_id)
                )
                fresh = [(rid, group[rid]) for rid, top in newest if top > group[rid]]
                if not fresh:
                    continue
                wanted = sa.or_(
                    *(sa.and_(ev.c.run_id == rid, ev.c.id > after) for rid, after in fresh)
                )
                rows = conn.execute(sa.select(ev).where(wanted).order_by(ev.c.id).limit(limit))
                found += [_event(row) for row in rows]
        return found


def _event(row: sa.Row[object]) -> Event:
    return Event(row.run_id, row.type, row.data, row.id, row.created_at)
