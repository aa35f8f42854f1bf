"""GET /api/v1/files and /api/v1/files/{id}: owner only, the right headers, expiry."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.cli import run_command
from backend.data.open import open_store
from backend.data.store import Store
from backend.server.app import create_app
from backend.settings import Settings
from tests.api.conftest import add_file, assert_error, create_key


def test_the_owner_downloads_a_file_with_its_type_and_name(
    client: TestClient, store: Store, alice: dict[str, str]
) -> None:
    data = bytes(range(256)) * 5000  # more than one chunk
    rec = add_file(store, data, name="ünïcode pic.png")

    answer = client.get(f"/api/v1/files/{rec.id}", headers=alice)

    assert answer.status_code == 200
    assert answer.content == data
    assert answer.headers["content-type"] == "image/png"
    assert answer.headers["content-length"] == str(len(data))
    assert answer.headers["x-content-type-options"] == "nosniff"
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith("inline; filename=")
    assert "filename*=UTF-8''%C3%BCn%C3%AFcode%20pic.png" in disposition


def test_a_type_that_could_script_is_an_attachment(
    client: TestClient, store: Store, alice: dict[str, str]
) -> None:
    rec = add_file(store, b"<svg onload=alert(1)/>", name="x.svg", content_type="image/svg+xml")
    answer = client.get(f"/api/v1/files/{rec.id}", headers=alice)
    assert answer.headers["content-disposition"].startswith('attachment; filename="x.svg"')
    assert "sandbox" in answer.headers["content-security-policy"]


def test_another_users_or_an_unknown_file_is_404(
    client: TestClient, store: Store, alice: dict[str, str], bob: dict[str, str]
) -> None:
    rec = add_file(store, b"secret picture")
    assert_error(client.get(f"/api/v1/files/{rec.id}", headers=bob), 404, "not_found")
    assert_error(client.get("/api/v1/files/nope", headers=alice), 404, "not_found")
    assert_error(client.get(f"/api/v1/files/{rec.id}"), 401, "unauthorized")
    assert client.get("/api/v1/files", headers=bob).json()["items"] == []


def test_files_are_listed_per_run_with_pages(
    client: TestClient, store: Store, alice: dict[str, str]
) -> None:
    now = time.time()
    made = [add_file(store, b"x", created_at=now - i) for i in range(3)]
    add_file(store, b"y", run="run-2")

    page = client.get("/api/v1/files", params={"run_id": "run-1", "limit": 2}, headers=alice)
    assert page.status_code == 200
    body = page.json()
    assert [f["id"] for f in body["items"]] == [made[0].id, made[1].id]
    assert body["items"][0]["url"] == f"/api/v1/files/{made[0].id}"
    rest = client.get(
        "/api/v1/files",
        params={"run_id": "run-1", "limit": 2, "cursor": body["next_cursor"]},
        headers=alice,
    ).json()
    assert [f["id"] for f in rest["items"]] == [made[2].id]
    assert rest["next_cursor"] is None
    assert_error(
        client.get("/api/v1/files", params={"run_id": "a b"}, headers=alice), 422, "invalid_input"
    )


def test_files_past_the_retention_are_gone(tmp_path: Path, settings: Settings) -> None:
    short = Settings(**{**settings.model_dump(), "file_retention_days": 1.0})
    store = open_store(short)
    store.prepare(auto_migrate=True)
    try:
        old = add_file(store, b"old", created_at=time.time() - 2 * 86400)
        fresh = add_file(store, b"new")
        headers = {"Authorization": f"Bearer {create_key(store, 'alice')}"}
        with TestClient(create_app(short, store)) as client:
            assert_error(client.get(f"/api/v1/files/{old.id}", headers=headers), 404, "not_found")
            assert client.get(f"/api/v1/files/{fresh.id}", headers=headers).content == b"new"
            listed = client.get("/api/v1/files", headers=headers).json()["items"]
            assert [f["id"] for f in listed] == [fresh.id]
    finally:
        store.close()


def test_purge_files_deletes_what_the_retention_no_longer_keeps(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("BACKEND_DATA_DIR", str(settings.data_dir))
    old = add_file(store, b"old", created_at=time.time() - 40 * 86400)
    fresh = add_file(store, b"new")

    assert run_command(["purge-files"]) == 0

    assert capsys.readouterr().out == "1 expired files purged\n"
    assert [f.id for f in store.list_files("alice")] == [fresh.id]
    assert list(store.file_chunks(old.id)) == []
    monkeypatch.setenv("BACKEND_FILE_RETENTION_DAYS", "0")
    assert run_command(["purge-files"]) == 0
    assert "nothing to purge" in capsys.readouterr().out
