"""PostgreSQL for tests: a uniquely named database per module (or test), created and
dropped on the server at 127.0.0.1:5432 (or TEST_POSTGRES_URL, an admin connection).

Where no server is reachable the PostgreSQL variants are skipped, except in CI (the `CI`
environment variable is set), where they fail: CI must never pass by skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_PREFIX = "agent_server_test_"


@cache
def _unreachable_reason() -> str | None:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=2):
            return None
    except psycopg.Error as exc:
        return " ".join(str(exc).split()) or type(exc).__name__


def require_postgres() -> None:
    """Skip (or, in CI, fail) the calling test when no PostgreSQL server answers."""
    reason = _unreachable_reason()
    if reason is None:
        return
    message = f"PostgreSQL not reachable at {_masked(ADMIN_URL)}: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set: PostgreSQL tests must run)", pytrace=False)
    pytest.skip(message)


def create_database(label: str = "") -> str:
    """Create an empty database with a unique name; returns its postgresql:// URL."""
    name = f"{DB_PREFIX}{_slug(label)}{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    name = sa.make_url(url).database
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        # FORCE: a listener thread or pooled connection left behind must not keep it alive.
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def fresh_database(label: str = "") -> Iterator[str]:
    require_postgres()
    url = create_database(label)
    try:
        yield url
    finally:
        drop_database(url)


def truncate_all(url: str) -> None:
    """Empty every table but the schema version, so a migrated database starts clean."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ]
        if tables:
            conn.execute(
                sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                    sql.SQL(", ").join(sql.Identifier(t) for t in tables)
                )
            )


def terminate_sessions(url: str) -> int:
    """Kill every session on the database but this one (what a server restart or a
    failover does to clients); returns how many were terminated."""
    name = sa.make_url(url).database
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return sum(1 for (killed,) in rows if killed)


def session_count(url: str) -> int:
    """How many sessions the database has, other than this one."""
    name = sa.make_url(url).database
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _slug(label: str) -> str:
    cleaned = "".join(ch for ch in label.lower() if ch.isalnum() or ch == "_")[:20]
    return f"{cleaned}_" if cleaned else ""


def _masked(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)
