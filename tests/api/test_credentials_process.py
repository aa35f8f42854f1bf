"""`python -m backend.rest` and the encryption key: made once, reused, and a wrong or lost
key stops the start with exit 1 and one line (never a fresh key over old secrets)."""

from __future__ import annotations

import signal
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from backend.data.api_keys import hash_key, new_key, shown_prefix
from backend.data.credentials import NewCredentials
from backend.data.credentials_manager import CredentialsManager
from backend.data.open import open_store
from backend.data.vault import KEY_FILE_NAME, generate_key, open_vault
from backend.providers.credentials import CredentialsMetaInput, CredentialsType
from backend.settings import Settings
from tests.api.test_rest_process import free_port, start, wait_healthy

SECRET = "sk-proc-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    return output


def failed_start(tmp_path: Path, **settings: str) -> str:
    """The output of a start that must fail: exit 1, one error line, no traceback."""
    process = start(tmp_path, free_port(), **settings)
    try:
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 1, output
    assert "Traceback" not in output
    (error,) = [line for line in output.splitlines() if " ERROR " in line]
    return error


def seed(tmp_path: Path, **settings: str) -> str:
    """A database with one credential, as an earlier start would have left it."""
    config = Settings(data_dir=tmp_path, **settings)
    store = open_store(config)
    try:
        store.prepare(auto_migrate=True)
        manager = CredentialsManager(config, store, open_vault(config, store))
        new = NewCredentials("openai", CredentialsType.API_KEY, "", {"api_key": SecretStr(SECRET)})
        return manager.add("alice", new).id
    finally:
        store.close()


def test_the_key_file_is_made_private_on_the_first_start_and_reused(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    key_file = tmp_path / KEY_FILE_NAME
    process = start(tmp_path, port)
    try:
        wait_healthy(url, process)
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        key = key_file.read_text()
        store = open_store(Settings(data_dir=tmp_path))
        api_key = new_key()
        store.create_api_key("alice", hash_key(api_key), shown_prefix(api_key), time.time())
        store.close()
        headers = {"Authorization": f"Bearer {api_key}"}
        body = {"provider": "openai", "api_key": SECRET}
        created = httpx.post(f"{url}/api/v1/credentials", json=body, headers=headers)
        assert created.status_code == 201, created.text
        first_output = stop(process)

        process = start(tmp_path, port)
        wait_healthy(url, process)
        listed = httpx.get(f"{url}/api/v1/credentials", headers=headers).json()["items"]
        assert [item["id"] for item in listed] == [created.json()["id"]]
        second_output = stop(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert key_file.read_text() == key
    assert "created encryption key file" in first_output
    assert "created encryption key file" not in second_output
    # The key the processes used still opens what they stored.
    config = Settings(data_dir=tmp_path)
    store = open_store(config)
    try:
        manager = CredentialsManager(config, store, open_vault(config, store))
        ref = CredentialsMetaInput(id=created.json()["id"], provider="openai")
        assert manager.resolve("alice", ref, "openai").api_key == SecretStr(SECRET)
    finally:
        store.close()
    assert SECRET[8:-8] not in first_output + second_output


@pytest.mark.parametrize("wrong", ["other-key", "malformed"])
def test_a_wrong_key_fails_the_start_with_one_line(tmp_path: Path, wrong: str) -> None:
    right = generate_key()
    seed(tmp_path, encryption_key=right)
    value = generate_key() if wrong == "other-key" else "not-a-key"

    error = failed_start(tmp_path, BACKEND_ENCRYPTION_KEY=value)

    assert "rest: " in error and "BACKEND_ENCRYPTION_KEY" in error
    assert value not in error and right not in error


def test_a_lost_key_file_fails_the_start_instead_of_making_a_new_key(tmp_path: Path) -> None:
    seed(tmp_path)
    (tmp_path / KEY_FILE_NAME).unlink()

    error = failed_start(tmp_path)

    assert f"the key file {tmp_path / KEY_FILE_NAME} is missing" in error
    assert not (tmp_path / KEY_FILE_NAME).exists()
