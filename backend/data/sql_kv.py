"""The per-user key/value store of AutoGPT's Persist/RetrieveInformation blocks."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from backend.data import schema as t
from backend.data.sqlbase import SQLBase


class KeyValueMixin(SQLBase):
    def kv_get(self, user_id: str, scope: str, key: str) -> tuple[bool, Any]:
        kv = t.agent_kv
        with self.read() as conn:
            row = conn.execute(
                sa.select(kv.c.value).where(
                    kv.c.user_id == user_id, kv.c.scope == scope, kv.c.key == key
                )
            ).first()
        return (False, None) if row is None else (True, row.value)

    def kv_put(self, user_id: str, scope: str, key: str, value: Any, now: float) -> None:
        kv = t.agent_kv
        stmt = self.insert(kv).values(
            user_id=user_id, scope=scope, key=key, value=value, updated_at=now
        )
        with self.write() as conn:
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["user_id", "scope", "key"],
                    set_={"value": stmt.excluded.value, "updated_at": now},
                )
            )

    def kv_count(self, user_id: str) -> int:
        kv = t.agent_kv
        with self.read() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(kv).where(kv.c.user_id == user_id)
                ).scalar_one()
            )
