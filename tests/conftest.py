"""Shared fixtures. Being inside the ``tests`` package, this file also puts the checkout on
``sys.path``, so test modules import helpers as ``tests.<module>``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.data.open import open_store
from backend.data.store import Store
from backend.settings import Settings
from tests import pg
from tests.graphs import close_shared_pool


@pytest.fixture(scope="session", autouse=True)
def _block_workers() -> Iterator[None]:
    """Stops the session's shared block worker processes at the end."""
    yield
    close_shared_pool()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No BACKEND_* variable and no .env from the developer's shell or checkout leaks in."""
    for name in list(os.environ):
        if name.startswith("BACKEND_"):
            monkeypatch.delenv(name)
    # Settings read .env from the working directory.
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database of its own for the test module (skipped or, in CI, failed
    when no server is reachable); tests reset it with ``pg.truncate_all``."""
    with pg.fresh_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run the test once per database: a fresh SQLite file, then an emptied PostgreSQL
    database (schema kept, so only the first test of a module pays for migrations)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'backend.db'}"
    url: str = request.getfixturevalue("pg_database")
    pg.truncate_all(url)
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store on each database (modules and directories with their own ``store``
    override it)."""
    store = open_store(Settings(database_url=database_url))
    store.prepare(auto_migrate=True)
    yield store
    store.close()
