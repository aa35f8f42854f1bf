"""The encryption key: made once, proven against the database, rotated without loss.

Every test runs on a SQLite file and on PostgreSQL (the ``database_url`` fixture).
"""

from __future__ import annotations

import functools
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from backend.data.credentials import NewCredentials
from backend.data.credentials_manager import CredentialsManager
from backend.data.open import open_store
from backend.data.store import Store
from backend.data.vault import KEY_FILE_NAME, Vault, generate_key, open_vault, reencrypt_all
from backend.errors import EncryptionKeyError
from backend.providers.credentials import CredentialsMetaInput, CredentialsType
from backend.settings import Settings

SECRET = "sk-test-0123456789abcdefghijklmnop"


def settings_for(data_dir: Path, database_url: str, **values: Any) -> Settings:
    return Settings(data_dir=data_dir, database_url=database_url, **values)


def at_once(*targets: Callable[[], None]) -> None:
    """Run ``targets`` in threads released together, as processes starting at once."""
    barrier = threading.Barrier(len(targets))

    def run(target: Callable[[], None]) -> None:
        barrier.wait()
        target()

    threads = [threading.Thread(target=run, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)


def add_key(manager: CredentialsManager, secret: str = SECRET, user: str = "alice") -> str:
    new = NewCredentials("openai", CredentialsType.API_KEY, "k", {"api_key": SecretStr(secret)})
    return manager.add(user, new).id


def resolve(manager: CredentialsManager, credentials_id: str, user: str = "alice") -> str:
    ref = CredentialsMetaInput(id=credentials_id, provider="openai")
    key = manager.resolve(user, ref, "openai").api_key
    assert key is not None
    return key.get_secret_value()


def test_first_start_creates_a_private_key_file_and_the_next_reuses_it(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    settings = settings_for(tmp_path / "data", database_url)
    first = CredentialsManager(settings, store, open_vault(settings, store))
    credentials_id = add_key(first)
    key_file = tmp_path / "data" / KEY_FILE_NAME
    content = key_file.read_text()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    again = CredentialsManager(settings, store, open_vault(settings, store))

    assert key_file.read_text() == content
    assert resolve(again, credentials_id) == SECRET


def test_a_missing_key_file_is_not_replaced_while_secrets_exist(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    settings = settings_for(tmp_path, database_url)
    add_key(CredentialsManager(settings, store, open_vault(settings, store)))
    (tmp_path / KEY_FILE_NAME).unlink()

    with pytest.raises(EncryptionKeyError) as caught:
        open_vault(settings, store)

    assert "key file" in caught.value.message and "restore" in caught.value.message
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_a_wrong_key_is_refused_before_any_secret_is_read(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    right, wrong = generate_key(), generate_key()
    open_vault(settings_for(tmp_path, database_url, encryption_key=right), store)

    with pytest.raises(EncryptionKeyError) as caught:
        open_vault(settings_for(tmp_path, database_url, encryption_key=wrong), store)

    message = caught.value.message
    assert "BACKEND_ENCRYPTION_KEY" in message and "not the key" in message
    assert right not in message and wrong not in message and "\n" not in message


@pytest.mark.parametrize("value", ["not-a-key", f"{generate_key()},short"])
def test_a_malformed_key_names_the_setting_not_the_value(
    tmp_path: Path, database_url: str, store: Store, value: str
) -> None:
    with pytest.raises(EncryptionKeyError) as caught:
        open_vault(settings_for(tmp_path, database_url, encryption_key=value), store)
    assert "BACKEND_ENCRYPTION_KEY" in caught.value.message
    assert "not a Fernet key" in caught.value.message
    assert all(part not in caught.value.message for part in value.split(","))


def test_rotation_keeps_old_secrets_readable_and_writes_under_the_new_key(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    old, new = generate_key(), generate_key()
    with_old = settings_for(tmp_path, database_url, encryption_key=old)
    old_id = add_key(CredentialsManager(with_old, store, open_vault(with_old, store)), "sk-old")

    both = settings_for(tmp_path, database_url, encryption_key=f"{new},{old}")
    vault = open_vault(both, store)
    manager = CredentialsManager(both, store, vault)
    new_id = add_key(manager, "sk-new")
    assert resolve(manager, old_id) == "sk-old"
    _, token = store.get_credentials_secret("alice", new_id)
    assert Vault([new], "new").decrypt(token) == {"api_key": "sk-new"}
    with pytest.raises(EncryptionKeyError):
        Vault([old], "old").decrypt(token)

    assert reencrypt_all(store, vault) == 2

    only_new = settings_for(tmp_path, database_url, encryption_key=new)
    after = CredentialsManager(only_new, store, open_vault(only_new, store))
    assert (resolve(after, old_id), resolve(after, new_id)) == ("sk-old", "sk-new")
    with pytest.raises(EncryptionKeyError):
        open_vault(with_old, store)


def test_processes_starting_together_on_one_host_share_one_new_key(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    settings = settings_for(tmp_path, database_url)
    starts = 4
    vaults: list[Vault] = []
    errors: list[BaseException] = []

    def start() -> None:
        own = open_store(settings)
        try:
            vaults.append(open_vault(settings, own))
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.close()

    at_once(*[start] * starts)

    assert errors == [] and len(vaults) == starts
    token = vaults[0].encrypt({"api_key": "x"})
    assert all(vault.decrypt(token) == {"api_key": "x"} for vault in vaults)
    assert [p.name for p in tmp_path.iterdir() if KEY_FILE_NAME in p.name] == [KEY_FILE_NAME]


def test_two_hosts_without_a_shared_key_cannot_both_start(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    dirs = [tmp_path / "host-a", tmp_path / "host-b"]
    results: dict[Path, BaseException | None] = {}

    def start(data_dir: Path) -> None:
        settings = settings_for(data_dir, database_url)
        own = open_store(settings)
        try:
            open_vault(settings, own)
            results[data_dir] = None
        except EncryptionKeyError as exc:
            results[data_dir] = exc
        finally:
            own.close()

    at_once(*[functools.partial(start, d) for d in dirs])

    # One host's key became the database's; the other stopped, and kept no key of its own.
    (winner,) = [d for d in dirs if results[d] is None]
    (loser,) = [d for d in dirs if results[d] is not None]
    assert (winner / KEY_FILE_NAME).exists()
    assert not (loser / KEY_FILE_NAME).exists()


def test_a_key_file_others_can_read_is_used_with_a_warning(
    tmp_path: Path, database_url: str, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(tmp_path, database_url)
    credentials_id = add_key(CredentialsManager(settings, store, open_vault(settings, store)))
    (tmp_path / KEY_FILE_NAME).chmod(0o644)

    manager = CredentialsManager(settings, store, open_vault(settings, store))

    assert resolve(manager, credentials_id) == SECRET
    assert "readable by other users (mode 644); chmod 600 it" in caplog.text
