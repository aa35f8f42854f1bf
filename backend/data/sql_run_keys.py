"""Run keys in SQL: claimed inside the transaction that submits the run, so a run and its
key exist together or not at all (see run_keys.py for what a key means)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from backend.data import schema as t
from backend.data.run_keys import RunKey
from backend.errors import Conflict, RateLimited

# Serialises submits of one scope across processes; a no-op where writers already are.
ScopeLock = Callable[[sa.Connection, str], None]


def claim_run_key(
    conn: sa.Connection, key: RunKey, run_id: str, now: float, lock: ScopeLock
) -> str | None:
    """Record ``key`` for ``run_id``; returns the earlier run's id instead when the key
    already started one (then nothing is written). Conflict when that earlier run was
    asked with another fingerprint; RateLimited when the scope is over its rate."""
    rk = t.run_keys
    lock(conn, key.scope)
    stored = key.stored_key
    row = conn.execute(
        sa.select(rk.c.run_id, rk.c.fingerprint, rk.c.expires_at).where(
            rk.c.user_id == key.user_id, rk.c.key == stored
        )
    ).first()
    if row is not None:
        if row.expires_at is None or row.expires_at > now:
            if row.fingerprint != key.fingerprint:
                raise Conflict(
                    f"key {key.key!r} was already used for a different request "
                    f"(run {row.run_id}); use a new key for a new request"
                )
            return str(row.run_id)
        conn.execute(rk.delete().where(rk.c.user_id == key.user_id, rk.c.key == stored))
    if key.rate is not None:
        _check_rate(conn, key, now)
    # The primary key is the guarantee: should two submits ever pass the lookup at once,
    # the second insert fails and its whole transaction (the run too) rolls back.
    conn.execute(
        rk.insert().values(
            user_id=key.user_id,
            key=stored,
            scope=key.scope,
            fingerprint=key.fingerprint,
            run_id=run_id,
            created_at=now,
            expires_at=key.expires_at,
        )
    )
    return None


def _check_rate(conn: sa.Connection, key: RunKey, now: float) -> None:
    assert key.rate is not None
    rk = t.run_keys
    since = now - key.rate.window_seconds
    count, oldest = conn.execute(
        sa.select(sa.func.count(), sa.func.min(rk.c.created_at)).where(
            rk.c.scope == key.scope, rk.c.created_at > since
        )
    ).one()
    if count >= key.rate.limit:
        retry_after = max(0.0, float(oldest) + key.rate.window_seconds - now)
        raise RateLimited(
            f"more than {key.rate.limit} runs in {key.rate.window_seconds:g} s for "
            f"{key.scope}; retry in {retry_after:.0f} s",
            retry_after=retry_after,
        )


def purge_run_keys(conn: sa.Connection, now: float) -> int:
    rk = t.run_keys
    result = conn.execute(rk.delete().where(rk.c.expires_at.is_not(None), rk.c.expires_at <= now))
    return int(result.rowcount or 0)
