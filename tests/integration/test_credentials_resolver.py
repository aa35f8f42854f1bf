"""What a node's credentials reference resolves to, on SQLite and on PostgreSQL.

The user's own credential by id, else the operator's default for the provider, else an
error that says what to do; never another user's credential.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from backend.data.credentials import NewCredentials
from backend.data.credentials_manager import CredentialsManager, SystemCredentials
from backend.data.store import Store
from backend.data.vault import Vault, generate_key, open_vault
from backend.errors import EncryptionKeyError, InvalidInput, MissingCredentials, NotFound
from backend.providers.credentials import CredentialsMetaInput, CredentialsType
from backend.settings import Settings

SECRET = "sk-ant-0123456789abcdefghijklmnopqrstuv"


def manager_for(tmp_path: Path, store: Store, **defaults: Any) -> CredentialsManager:
    settings = Settings(data_dir=tmp_path, **defaults)
    return CredentialsManager(settings, store, open_vault(settings, store))


def add(
    manager: CredentialsManager, user: str = "alice", provider: str = "anthropic"
) -> CredentialsMetaInput:
    new = NewCredentials(
        provider, CredentialsType.API_KEY, "mine", {"api_key": SecretStr(f" {SECRET}\n")}
    )
    return manager.add(user, new).reference()


def test_a_reference_resolves_to_the_users_decrypted_credential(
    tmp_path: Path, store: Store
) -> None:
    manager = manager_for(tmp_path, store, anthropic_api_key="sk-operator")
    ref = add(manager)

    resolved = manager.resolve("alice", ref, "anthropic")

    assert (resolved.id, resolved.provider, resolved.title) == (ref.id, "anthropic", "mine")
    # Stored stripped of the pasted whitespace; wrapped so printing it shows nothing.
    assert resolved.api_key == SecretStr(SECRET)
    assert SECRET not in f"{resolved} {resolved!r}"
    manager.check("alice", ref, "anthropic")


def test_another_users_reference_is_not_found(tmp_path: Path, store: Store) -> None:
    manager = manager_for(tmp_path, store, anthropic_api_key="sk-operator")
    ref = add(manager, user="alice")

    # Not even the operator default stands in: the node named a credential.
    for call in (manager.resolve, manager.check):
        with pytest.raises(NotFound, match=f"credentials {ref.id} not found"):
            call("bob", ref, "anthropic")


def test_a_reference_to_another_provider_names_both(tmp_path: Path, store: Store) -> None:
    manager = manager_for(tmp_path, store)
    ref = add(manager, provider="anthropic")

    for call in (manager.resolve, manager.check):
        with pytest.raises(InvalidInput) as caught:
            call("alice", ref, "openai")
        assert "'anthropic'" in caught.value.message and "'openai'" in caught.value.message


def test_a_reference_of_another_type_is_refused(tmp_path: Path, store: Store) -> None:
    manager = manager_for(tmp_path, store)
    ref = add(manager).model_copy(update={"type": CredentialsType.USER_PASSWORD})

    with pytest.raises(InvalidInput, match="type api_key"):
        manager.resolve("alice", ref, "anthropic")


def test_without_a_reference_the_operator_default_is_used(tmp_path: Path, store: Store) -> None:
    manager = manager_for(tmp_path, store, openai_api_key="sk-operator-default")
    add(manager, provider="openai")

    resolved = manager.resolve("alice", None, "openai")

    # The user's own credentials are used only when a node names them.
    assert (resolved.id, resolved.title) == ("", "BACKEND_OPENAI_API_KEY")
    assert resolved.api_key == SecretStr("sk-operator-default")


def test_no_credential_and_no_default_says_what_to_do(tmp_path: Path, store: Store) -> None:
    manager = manager_for(tmp_path, store)

    for call in (manager.resolve, manager.check):
        with pytest.raises(MissingCredentials) as caught:
            call("alice", None, "open_router", "credentials")
        message = caught.value.message
        assert "'open_router'" in message and "agent-server credentials add" in message
        assert "BACKEND_OPEN_ROUTER_API_KEY" in message and "'credentials'" in message
        assert caught.value.http_status == 422


def test_ollama_needs_no_key(tmp_path: Path, store: Store) -> None:
    manager = manager_for(tmp_path, store)

    resolved = manager.resolve("alice", None, "ollama")

    assert (resolved.provider, resolved.api_key) == ("ollama", None)
    assert manager.has_credentials("alice", "ollama")


def test_has_credentials_counts_the_users_own_and_the_defaults(
    tmp_path: Path, store: Store
) -> None:
    manager = manager_for(tmp_path, store, openai_api_key="sk-operator")
    add(manager, user="alice", provider="anthropic")

    assert manager.has_credentials("alice", "anthropic")
    assert not manager.has_credentials("bob", "anthropic")
    assert manager.has_credentials("bob", "openai")
    assert not manager.has_credentials("alice", "open_router")


def test_a_secret_under_an_unknown_key_fails_naming_the_credential(
    tmp_path: Path, store: Store
) -> None:
    manager = manager_for(tmp_path, store)
    record = store.get_credentials("alice", add(manager).id)
    # As if written by a process with a key this one does not have.
    foreign = Vault([generate_key()], "another key").encrypt({"api_key": SECRET})
    stray = replace(record, id="stray")
    store.create_credentials(stray, foreign)

    # The submit-time check reads no secret, so it cannot tell.
    manager.check("alice", CredentialsMetaInput(id="stray", provider="anthropic"), "anthropic")
    with pytest.raises(EncryptionKeyError, match="credentials stray cannot be decrypted"):
        manager.resolve(
            "alice", CredentialsMetaInput(id="stray", provider="anthropic"), "anthropic"
        )


def test_system_credentials_serve_run_local_from_the_settings(tmp_path: Path) -> None:
    system = SystemCredentials(Settings(data_dir=tmp_path, openai_api_key="sk-local"))
    ref = CredentialsMetaInput(id="from-another-server", provider="openai")

    assert system.resolve("local", ref, "openai").api_key == SecretStr("sk-local")
    with pytest.raises(MissingCredentials):
        system.resolve("local", None, "anthropic")
