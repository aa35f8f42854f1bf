"""OAuth2 credentials against a local authorization server over real HTTP: the refresh
before a node runs (and two at once), a revoked grant, and the monitor's connect flow
(PKCE, a state bound to the browser, used once, expiring)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from backend.data.credentials_manager import CredentialsManager
from backend.data.store import Store
from backend.data.vault import open_vault
from backend.errors import BackendError
from backend.providers.credentials import CredentialsMetaInput, CredentialsType
from backend.providers.oauth import GrantRevoked, TokenSet
from backend.settings import Settings
from tests.api.conftest import make_settings
from tests.oauth_server import CLIENT_ID, CLIENT_SECRET, OAuthServer


@pytest.fixture
def oauth() -> Iterator[OAuthServer]:
    with OAuthServer() as server:
        yield server


@pytest.fixture
def settings(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, oauth: OAuthServer
) -> Settings:
    monkeypatch.setenv("BACKEND_DATABASE_URL", database_url)
    return make_settings(
        tmp_path,
        database_url=database_url,
        google_client_id=CLIENT_ID,
        google_client_secret=CLIENT_SECRET,
        google_auth_url=oauth.auth_url,
        google_token_url=oauth.token_url,
    )


def manager(settings: Settings, store: Store, now: float | None = None) -> CredentialsManager:
    clock = (lambda: now) if now is not None else time.time
    return CredentialsManager(settings, store, open_vault(settings, store), clock=clock)


def granted(oauth: OAuthServer, expires_in: float) -> TokenSet:
    """Tokens as a connect flow stores them, with a refresh token the server knows."""
    refresh = "1//refresh-test"
    oauth.refresh_tokens[refresh] = "https://www.googleapis.com/auth/gmail.readonly"
    return TokenSet(
        access_token=SecretStr("ya29.old-access"),
        refresh_token=SecretStr(refresh),
        expires_at=time.time() + expires_in,
        scopes=("https://www.googleapis.com/auth/gmail.readonly",),
    )


def ref_of(record_id: str) -> CredentialsMetaInput:
    return CredentialsMetaInput(id=record_id, provider="google", type=CredentialsType.OAUTH2)


def test_a_token_expiring_within_a_minute_is_refreshed_and_stored(
    settings: Settings, store: Store, oauth: OAuthServer
) -> None:
    creds = manager(settings, store)
    record = creds.add_oauth("alice", "google", granted(oauth, expires_in=30))
    assert record.hint == "oauth2" and record.type is CredentialsType.OAUTH2

    got = creds.resolve("alice", ref_of(record.id), "google")

    assert got.access_token is not None
    assert got.access_token.get_secret_value() == oauth.access_tokens[-1]
    assert got.expires_at is not None and got.expires_at > time.time() + 3000
    assert oauth.paths("POST") == ["/token"]
    # Stored: the next node gets the new token without another refresh.
    again = creds.resolve("alice", ref_of(record.id), "google")
    assert again.access_token == got.access_token
    assert oauth.paths("POST") == ["/token"]
    assert store.get_credentials("alice", record.id).scopes == record.scopes


def test_a_token_good_for_longer_is_not_refreshed(
    settings: Settings, store: Store, oauth: OAuthServer
) -> None:
    creds = manager(settings, store)
    record = creds.add_oauth("alice", "google", granted(oauth, expires_in=600))
    got = creds.resolve("alice", ref_of(record.id), "google")
    assert got.access_token is not None
    assert got.access_token.get_secret_value() == "ya29.old-access"
    assert oauth.requests == []


def test_a_revoked_grant_is_a_clear_error_asking_to_reconnect(
    settings: Settings, store: Store, oauth: OAuthServer
) -> None:
    creds = manager(settings, store)
    tokens = granted(oauth, expires_in=-5)
    record = creds.add_oauth("alice", "google", tokens)
    oauth.revoked.add("1//refresh-test")

    with pytest.raises(GrantRevoked) as raised:
        creds.resolve("alice", ref_of(record.id), "google")

    message = raised.value.message
    assert "invalid_grant" in message and "connect the account again" in message
    assert record.id in message
    for secret in ("1//refresh-test", "ya29", CLIENT_SECRET):
        assert secret not in message
    # Submitting a run does not decrypt or refresh anything.
    creds.check("alice", ref_of(record.id), "google")


def test_two_executors_refreshing_at_once_end_with_one_stored_token(
    settings: Settings, store: Store, oauth: OAuthServer
) -> None:
    record = manager(settings, store).add_oauth("alice", "google", granted(oauth, expires_in=10))
    results: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def executor() -> None:
        try:
            start.wait()
            got = manager(settings, store).resolve("alice", ref_of(record.id), "google")
            assert got.access_token is not None
            results.append(got.access_token.get_secret_value())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=executor) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    stored = manager(settings, store).resolve("alice", ref_of(record.id), "google")
    assert stored.access_token is not None
    # Each executor runs with the token that was kept.
    assert results == [stored.access_token.get_secret_value()] * 2


def test_without_a_registered_client_an_expired_token_says_so(
    tmp_path: Path, database_url: str, store: Store, oauth: OAuthServer
) -> None:
    bare = make_settings(tmp_path, database_url=database_url)
    creds = CredentialsManager(bare, store, open_vault(bare, store))
    record = creds.add_oauth("alice", "google", granted(oauth, expires_in=-5))
    with pytest.raises(BackendError, match="has not registered a google OAuth2 client"):
        creds.resolve("alice", ref_of(record.id), "google")
