"""API keys in SQL: create, list, revoke, and resolve a key hash to its user."""

from __future__ import annotations

import functools
import uuid
from typing import Any

import sqlalchemy as sa

from backend.data import schema as t
from backend.data.api_keys import ApiKey
from backend.data.sql_direct import DirectMixin
from backend.data.sqlbase import Query
from backend.errors import Conflict, NotFound


def _to_key(row: sa.Row[Any]) -> ApiKey:
    return ApiKey(
        id=row.id,
        user_id=row.user_id,
        prefix=row.prefix,
        created_at=row.created_at,
        name=row.name,
        revoked_at=row.revoked_at,
    )


class AuthMixin(DirectMixin):
    def create_api_key(
        self, user_id: str, key_hash: str, prefix: str, now: float, name: str | None = None
    ) -> ApiKey:
        key = ApiKey(
            id=uuid.uuid4().hex[:16], user_id=user_id, prefix=prefix, created_at=now, name=name
        )
        with self.write() as conn:
            conn.execute(
                t.api_keys.insert().values(
                    id=key.id,
                    user_id=user_id,
                    name=name,
                    key_hash=key_hash,
                    prefix=prefix,
                    created_at=now,
                    revoked_at=None,
                )
            )
        return key

    def list_api_keys(self, user_id: str | None = None) -> list[ApiKey]:
        k = t.api_keys
        query = sa.select(k).order_by(k.c.created_at, k.c.id)
        if user_id is not None:
            query = query.where(k.c.user_id == user_id)
        with self.read() as conn:
            return [_to_key(row) for row in conn.execute(query)]

    def revoke_api_key(self, id_or_prefix: str, now: float) -> ApiKey:
        k = t.api_keys
        with self.write() as conn:
            rows = conn.execute(
                sa.select(k).where(sa.or_(k.c.id == id_or_prefix, k.c.prefix == id_or_prefix))
            ).all()
            if not rows:
                raise NotFound(f"no API key with id or prefix {id_or_prefix!r}")
            if len(rows) > 1:
                raise Conflict(
                    f"{id_or_prefix!r} matches {len(rows)} API keys; revoke by id instead",
                    details=[row.id for row in rows],
                )
            key = _to_key(rows[0])
            if key.revoked:
                return key
            conn.execute(k.update().where(k.c.id == key.id).values(revoked_at=now))
            return ApiKey(**{**key.__dict__, "revoked_at": now})

    def user_for_key_hash(self, key_hash: str) -> str | None:
        row = self.read_row(self._key_user, key_hash=key_hash)
        return None if row is None else str(row[0])

    @functools.cached_property
    def _key_user(self) -> Query:
        # Every API request asks this: compiled once, one statement, no transaction.
        k = t.api_keys
        return Query(
            self.engine,
            sa.select(k.c.user_id).where(
                k.c.key_hash == sa.bindparam("key_hash"), k.c.revoked_at.is_(None)
            ),
        )
