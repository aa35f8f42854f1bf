"""Webhook hooks in SQL: per-user records with their encrypted secret. A user's lookups
are scoped to the user; a delivery looks its hook up by id alone (it has no user yet)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from backend.data import schema as t
from backend.data.hooks import HookAuth, HookRecord
from backend.data.sqlbase import SQLBase
from backend.errors import NotFound

_RECORD_COLUMNS = [c for c in t.hooks.c if c.name != "secret"]


def _to_record(row: sa.Row[Any]) -> HookRecord:
    data = {c.name: getattr(row, c.name) for c in _RECORD_COLUMNS}
    data["auth"] = HookAuth(data["auth"])
    data["enabled"] = bool(data["enabled"])
    return HookRecord(**data)


def _not_found(hook_id: str) -> NotFound:
    return NotFound(f"hook {hook_id} not found")


class HooksMixin(SQLBase):
    def create_hook(self, record: HookRecord, secret: str) -> None:
        with self.write() as conn:
            conn.execute(
                t.hooks.insert().values(
                    id=record.id,
                    user_id=record.user_id,
                    graph_id=record.graph_id,
                    graph_version=record.graph_version,
                    name=record.name,
                    input_name=record.input_name,
                    auth=record.auth.value,
                    secret=secret,
                    enabled=record.enabled,
                    created_at=record.created_at,
                    updated_at=record.updated_at,
                )
            )

    def get_hook(self, user_id: str, hook_id: str) -> HookRecord:
        h = t.hooks
        with self.read() as conn:
            row = conn.execute(
                sa.select(*_RECORD_COLUMNS).where(h.c.id == hook_id, h.c.user_id == user_id)
            ).first()
        if row is None:
            raise _not_found(hook_id)
        return _to_record(row)

    def get_hook_for_delivery(self, hook_id: str) -> tuple[HookRecord, str]:
        h = t.hooks
        with self.read() as conn:
            row = conn.execute(sa.select(h).where(h.c.id == hook_id)).first()
        if row is None:
            raise _not_found(hook_id)
        return _to_record(row), str(row.secret)

    def list_hooks(self, user_id: str, graph_id: str | None = None) -> list[HookRecord]:
        h = t.hooks
        query = (
            sa.select(*_RECORD_COLUMNS)
            .where(h.c.user_id == user_id)
            .order_by(h.c.created_at, h.c.id)
        )
        if graph_id is not None:
            query = query.where(h.c.graph_id == graph_id)
        with self.read() as conn:
            return [_to_record(row) for row in conn.execute(query)]

    def update_hook(self, record: HookRecord) -> None:
        """Write the record's name, input and enabled flag (the secret stays)."""
        h = t.hooks
        with self.write() as conn:
            result = conn.execute(
                h.update()
                .where(h.c.id == record.id, h.c.user_id == record.user_id)
                .values(
                    name=record.name,
                    input_name=record.input_name,
                    enabled=record.enabled,
                    updated_at=record.updated_at,
                )
            )
        if result.rowcount == 0:
            raise _not_found(record.id)

    def delete_hook(self, user_id: str, hook_id: str) -> None:
        h = t.hooks
        with self.write() as conn:
            result = conn.execute(h.delete().where(h.c.id == hook_id, h.c.user_id == user_id))
        if result.rowcount == 0:
            raise _not_found(hook_id)
