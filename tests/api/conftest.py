"""The real app over a real store, API keys, and a real executor.

Every test that uses the ``settings`` fixture runs twice: on a SQLite file in a temp dir
and on a PostgreSQL database (the ``database_url`` fixture), as a deployment would.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from backend.data.api_keys import hash_key, new_key, shown_prefix
from backend.data.files import FileRecord, chunks
from backend.data.open import open_store
from backend.data.store import Store
from backend.executor.manager import ExecutionManager
from backend.server.app import create_app
from backend.settings import Settings
from tests.graphs import fast_settings, shared_pool, wait_chain
from tests.http_server import AsgiServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return fast_settings(tmp_path, **{"max_body_bytes": 64 * 1024, **overrides})


def calculator_graph() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "ref4_calculator.json").read_text())
    return data


def wait_graph(seconds: float, steps: int = 1) -> dict[str, Any]:
    """Input -> Wait x steps -> Output "out": a run that takes a while, node by node."""
    return wait_chain(steps, seconds).to_json()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    # Also in the environment: settings a test builds itself, and the CLI's, read it there.
    monkeypatch.setenv("BACKEND_DATABASE_URL", database_url)
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = open_store(settings)
    store.prepare(auto_migrate=True)
    yield store
    store.close()


@pytest.fixture
def app(settings: Settings, store: Store) -> FastAPI:
    return create_app(settings, store)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The answer is ``status`` with the error envelope and ``code``; returns the error."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert error["message"]
    return error


def create_key(store: Store, user: str) -> str:
    key = new_key()
    store.create_api_key(user, hash_key(key), shown_prefix(key), time.time())
    return key


@pytest.fixture
def alice(store: Store) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_key(store, 'alice')}"}


@pytest.fixture
def bob(store: Store) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_key(store, 'bob')}"}


def add_file(
    store: Store, data: bytes, *, user: str = "alice", run: str = "run-1", **fields: object
) -> FileRecord:
    rec = FileRecord(
        **{  # type: ignore[arg-type]
            "id": f"f{time.time_ns()}",
            "user_id": user,
            "run_id": run,
            "node_exec_id": f"{run}-0",
            "name": "image.png",
            "content_type": "image/png",
            "size": len(data),
            "sha256": "ab" * 32,
            "created_at": time.time(),
            **fields,
        }
    )
    assert store.create_file(rec, chunks(data), max_run_bytes=1 << 30)
    return rec


def drain(settings: Settings) -> None:
    """One real executor, in this process, until no work is left."""
    asyncio.run(asyncio.wait_for(ExecutionManager(settings, shared_pool()).serve(burst=True), 60))


class LiveServer(AsgiServer):
    """The app served by uvicorn on a free port, in a thread (for streaming clients)."""

    def __exit__(self, *exc: object) -> None:
        self.app.state.stopping.set()  # open event streams end instead of holding it up
        super().__exit__(*exc)


@pytest.fixture
def live(app: FastAPI) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


def http(live: LiveServer, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=live.url, headers=headers, timeout=30)
