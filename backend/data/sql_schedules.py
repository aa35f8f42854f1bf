"""Schedules in SQL: per-user records, the due query, and the compare-and-set a slot fires
with. Every lookup by a user is scoped to that user (another user's is not found)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from backend.data import schema as t
from backend.data.schedules import MisfirePolicy, ScheduleAdvance, ScheduleRecord
from backend.data.sql_run_keys import purge_run_keys
from backend.data.sqlbase import SQLBase
from backend.errors import NotFound


def _to_record(row: sa.Row[Any]) -> ScheduleRecord:
    data = row._asdict()
    data["misfire"] = MisfirePolicy(data["misfire"])
    data["enabled"] = bool(data["enabled"])
    return ScheduleRecord(**data)


def _row(record: ScheduleRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "user_id": record.user_id,
        "graph_id": record.graph_id,
        "graph_version": record.graph_version,
        "name": record.name,
        "cron": record.cron,
        "timezone": record.timezone,
        "inputs": record.inputs,
        "enabled": record.enabled,
        "misfire": record.misfire.value,
        "next_fire_at": record.next_fire_at,
        "last_slot_at": record.last_slot_at,
        "last_run_id": record.last_run_id,
        "last_error": record.last_error,
        "revision": record.revision,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def _not_found(schedule_id: str) -> NotFound:
    return NotFound(f"schedule {schedule_id} not found")


def advance_schedule(conn: sa.Connection, advance: ScheduleAdvance, run_id: str | None) -> bool:
    """Move the schedule on if it is still at ``advance.revision``; False (and nothing
    written) when anyone wrote it since. The UPDATE takes the row lock, so concurrent
    schedulers firing the same slot queue here and all but the first find it moved."""
    s = t.schedules
    values: dict[str, Any] = {
        "next_fire_at": advance.next_fire_at,
        "revision": s.c.revision + 1,
        "updated_at": advance.now,
        "last_error": advance.error,
    }
    if advance.slot is not None:
        values["last_slot_at"] = advance.slot
    if run_id is not None:
        values["last_run_id"] = run_id
    if advance.disable:
        values["enabled"] = False
    result = conn.execute(
        s.update()
        .where(s.c.id == advance.schedule_id, s.c.revision == advance.revision)
        .values(**values)
    )
    return bool(result.rowcount == 1)


class SchedulesMixin(SQLBase):
    def create_schedule(self, record: ScheduleRecord) -> None:
        with self.write() as conn:
            conn.execute(t.schedules.insert().values(**_row(record)))

    def get_schedule(self, user_id: str, schedule_id: str) -> ScheduleRecord:
        s = t.schedules
        with self.read() as conn:
            row = conn.execute(
                sa.select(s).where(s.c.id == schedule_id, s.c.user_id == user_id)
            ).first()
        if row is None:
            raise _not_found(schedule_id)
        return _to_record(row)

    def list_schedules(self, user_id: str, graph_id: str | None = None) -> list[ScheduleRecord]:
        s = t.schedules
        query = sa.select(s).where(s.c.user_id == user_id).order_by(s.c.created_at, s.c.id)
        if graph_id is not None:
            query = query.where(s.c.graph_id == graph_id)
        with self.read() as conn:
            return [_to_record(row) for row in conn.execute(query)]

    def update_schedule(self, record: ScheduleRecord) -> ScheduleRecord:
        s = t.schedules
        values = _row(record)
        for fixed in ("id", "user_id", "created_at", "revision"):
            del values[fixed]
        with self.write() as conn:
            result = conn.execute(
                s.update()
                .where(s.c.id == record.id, s.c.user_id == record.user_id)
                .values(**values, revision=s.c.revision + 1)
                .returning(s.c.revision)
            )
            revision = result.scalar()
        if revision is None:
            raise _not_found(record.id)
        return replace(record, revision=int(revision))

    def delete_schedule(self, user_id: str, schedule_id: str) -> None:
        s = t.schedules
        with self.write() as conn:
            result = conn.execute(s.delete().where(s.c.id == schedule_id, s.c.user_id == user_id))
        if result.rowcount == 0:
            raise _not_found(schedule_id)

    def due_schedules(self, now: float, limit: int) -> list[ScheduleRecord]:
        s = t.schedules
        query = (
            sa.select(s)
            .where(s.c.enabled.is_(True), s.c.next_fire_at <= now)
            .order_by(s.c.next_fire_at, s.c.id)
            .limit(limit)
        )
        with self.read() as conn:
            return [_to_record(row) for row in conn.execute(query)]

    def next_fire_time(self) -> float | None:
        s = t.schedules
        with self.read() as conn:
            value = conn.execute(
                sa.select(sa.func.min(s.c.next_fire_at)).where(s.c.enabled.is_(True))
            ).scalar()
        return None if value is None else float(value)

    def advance_schedule(self, advance: ScheduleAdvance) -> bool:
        with self.write() as conn:
            return advance_schedule(conn, advance, None)

    def purge_run_keys(self, now: float) -> int:
        with self.write() as conn:
            return purge_run_keys(conn, now)
