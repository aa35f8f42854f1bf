"""Fixtures of the integration tests that several modules share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backend.data.open import open_store
from backend.data.store import Store
from backend.settings import Settings


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store on each database (modules with their own ``store`` override it)."""
    store = open_store(Settings(database_url=database_url))
    store.prepare(auto_migrate=True)
    yield store
    store.close()
