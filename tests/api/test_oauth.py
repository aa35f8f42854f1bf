"""OAuth2 credentials against a local authorization server over real HTTP: the refresh
before a node runs (and two at once), a revoked grant, and the monitor's connect flow
(PKCE, a state bound to the browser, used once, expiring)."""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from backend.data import credentials_refresh
from backend.data.credentials_manager import CredentialsManager
from backend.data.open import open_store
from backend.data.store import Store
from backend.data.vault import open_vault
from backend.errors import BackendError, ProviderError
from backend.providers.credentials import CredentialsMetaInput, CredentialsType
from backend.providers.oauth import GrantRevoked, TokenSet
from backend.server.ui import connect
from backend.settings import Settings
from tests.api.conftest import calculator_graph, create_key, drain, make_settings
from tests.gmail_server import GmailServer
from tests.oauth_server import CLIENT_ID, CLIENT_SECRET, EMAIL, OAuthServer
from tests.service_server import Json

API = "/api/v1"
FINAL = {"COMPLETED", "FAILED", "TERMINATED"}


@pytest.fixture
def oauth() -> Iterator[OAuthServer]:
    with OAuthServer() as server:
        yield server


@pytest.fixture
def gmail() -> Iterator[GmailServer]:
    with GmailServer() as server:
        yield server


@pytest.fixture
def settings(
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    oauth: OAuthServer,
    gmail: GmailServer,
) -> Settings:
    monkeypatch.setenv("BACKEND_DATABASE_URL", database_url)
    return make_settings(
        tmp_path,
        database_url=database_url,
        gmail_base_url=gmail.url,
        google_client_id=CLIENT_ID,
        google_client_secret=CLIENT_SECRET,
        google_auth_url=oauth.auth_url,
        google_token_url=oauth.token_url,
        google_revoke_url=f"{oauth.url}/revoke",
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


def refreshes(oauth: OAuthServer) -> int:
    return sum(b"grant_type=refresh_token" in r.body for r in oauth.requests)


def test_two_executors_needing_a_refresh_at_once_ask_the_provider_once(
    settings: Settings, store: Store, oauth: OAuthServer
) -> None:
    record = manager(settings, store).add_oauth("alice", "google", granted(oauth, expires_in=10))
    oauth.refresh_delay = 0.5  # the second executor arrives while the first is refreshing
    results: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def executor() -> None:
        own = open_store(settings)  # each executor with its own connections
        try:
            start.wait()
            got = manager(settings, own).resolve("alice", ref_of(record.id), "google")
            assert got.access_token is not None
            results.append(got.access_token.get_secret_value())
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=executor) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert refreshes(oauth) == 1
    # The one that waited runs with the token the other one stored.
    assert results == [oauth.access_tokens[-1]] * 2
    stored = manager(settings, store).resolve("alice", ref_of(record.id), "google")
    assert stored.access_token is not None
    assert stored.access_token.get_secret_value() == oauth.access_tokens[-1]
    assert refreshes(oauth) == 1


def test_a_lease_left_by_a_dead_executor_runs_out(
    settings: Settings, store: Store, oauth: OAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = manager(settings, store).add_oauth("alice", "google", granted(oauth, expires_in=10))
    now = time.time()
    assert store.claim_credentials_refresh("alice", record.id, "dead", now, now + 0.3)

    got = manager(settings, store).resolve("alice", ref_of(record.id), "google")

    assert got.access_token is not None
    assert got.access_token.get_secret_value() == oauth.access_tokens[-1]
    assert refreshes(oauth) == 1
    # Released after the refresh: the next one may claim it at once.
    assert store.claim_credentials_refresh("alice", record.id, "next", now, now + 30)


def test_a_waiter_gives_up_after_a_bound_and_an_expired_token_says_so(
    settings: Settings, store: Store, oauth: OAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = manager(settings, store).add_oauth("alice", "google", granted(oauth, expires_in=-1))
    now = time.time()
    assert store.claim_credentials_refresh("alice", record.id, "busy", now, now + 60)
    monkeypatch.setattr(credentials_refresh, "REFRESH_WAIT_SECONDS", 0.3)

    with pytest.raises(ProviderError, match="another executor has been refreshing"):
        manager(settings, store).resolve("alice", ref_of(record.id), "google")
    assert refreshes(oauth) == 0


def test_without_a_registered_client_an_expired_token_says_so(
    tmp_path: Path, database_url: str, store: Store, oauth: OAuthServer
) -> None:
    bare = make_settings(tmp_path, database_url=database_url)
    creds = CredentialsManager(bare, store, open_vault(bare, store))
    record = creds.add_oauth("alice", "google", granted(oauth, expires_in=-5))
    with pytest.raises(BackendError, match="has not registered a google OAuth2 client"):
        creds.resolve("alice", ref_of(record.id), "google")


# -- the monitor's connect flow -------------------------------------------------------------


@pytest.fixture
def alice_key(store: Store) -> str:
    return create_key(store, "alice")


@pytest.fixture
def signed_in(client: TestClient, alice_key: str) -> None:
    assert client.post("/ui/login", json={"key": alice_key}).status_code == 204


def start_flow(client: TestClient) -> dict[str, str]:
    """Click "Connect Google": the query of the authorization URL the browser is sent to."""
    page = client.get("/ui/credentials")
    assert page.status_code == 200 and 'href="/ui/oauth/google/start"' in page.text
    started = client.get("/ui/oauth/google/start", follow_redirects=False)
    assert started.status_code == 303, started.text
    location = started.headers["location"]
    assert location.startswith(OAUTH_AUTH_PATH_MARK)
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


OAUTH_AUTH_PATH_MARK = "http://127.0.0.1:"


def consent(oauth: OAuthServer, query: dict[str, str]) -> str:
    """What the user's browser does at Google: the path and query it is sent back to."""
    granted_page = httpx.get(oauth.auth_url, params=query, follow_redirects=False)
    assert granted_page.status_code == 302
    back = urllib.parse.urlsplit(granted_page.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == "http://testserver/ui/oauth/callback"
    return f"{back.path}?{back.query}"


def test_connect_google_stores_a_credential_whose_tokens_never_show(
    client: TestClient, store: Store, alice_key: str, signed_in: None, oauth: OAuthServer
) -> None:
    query = start_flow(client)
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["client_id"] == CLIENT_ID and query["access_type"] == "offline"
    assert "https://www.googleapis.com/auth/gmail.send" in query["scope"].split()
    assert "https://www.googleapis.com/auth/calendar.readonly" in query["scope"].split()

    done = client.get(consent(oauth, query))

    assert done.status_code == 200, done.text
    assert "Account connected" in done.text and EMAIL in done.text
    [record] = store.list_credentials("alice")
    assert record.provider == "google" and record.type is CredentialsType.OAUTH2
    assert "https://www.googleapis.com/auth/gmail.readonly" in record.scopes
    listed = client.get(f"{API}/credentials", headers={"Authorization": f"Bearer {alice_key}"})
    assert listed.status_code == 200
    page = client.get("/ui/credentials")
    assert "gmail.readonly" in page.text and record.id in page.text
    for shown in (listed.text, page.text, done.text):
        for token in [*oauth.access_tokens, *oauth.refresh_tokens, CLIENT_SECRET]:
            assert token not in shown
    # The stored tokens are the ones the token endpoint gave.
    got = manager_of(client).resolve("alice", ref_of(record.id), "google")
    assert got.access_token is not None
    assert got.access_token.get_secret_value() == oauth.access_tokens[-1]


def manager_of(client: TestClient) -> CredentialsManager:
    app = client.app
    assert isinstance(app, FastAPI)
    manager: CredentialsManager = app.state.credentials
    return manager


def test_a_state_is_used_once(
    client: TestClient, store: Store, signed_in: None, oauth: OAuthServer
) -> None:
    back = consent(oauth, start_flow(client))
    assert client.get(back).status_code == 200
    again = client.get(back)
    assert again.status_code == 400 and "already used" in again.text
    assert len(store.list_credentials("alice")) == 1


@pytest.mark.parametrize(
    "tamper",
    ["wrong state", "no state", "expired", "another browser", "another user", "denied"],
)
def test_a_bad_callback_is_400_and_stores_nothing(
    tamper: str,
    client: TestClient,
    store: Store,
    signed_in: None,
    oauth: OAuthServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if tamper == "expired":
        monkeypatch.setattr(connect, "STATE_TTL_SECONDS", -1)
    query = start_flow(client)
    back = consent(oauth, query)
    path, _, raw = back.partition("?")
    params = dict(urllib.parse.parse_qsl(raw))
    if tamper == "wrong state":
        params["state"] = "x" + params["state"]
    elif tamper == "no state":
        del params["state"]
    elif tamper == "another browser":
        client.cookies.delete(connect.FLOW_COOKIE, path=connect.FLOW_COOKIE_PATH)
    elif tamper == "another user":
        client.post("/ui/login", json={"key": create_key(store, "mallory")})
    elif tamper == "denied":
        params = {"error": "access_denied", "state": params["state"]}

    answer = client.get(path, params=params)

    assert answer.status_code == 400, answer.text
    assert store.list_credentials("alice") == [] and store.list_credentials("mallory") == []
    # The code was never exchanged.
    assert "/token" not in oauth.paths("POST")


def test_without_a_session_the_credentials_page_asks_to_sign_in(client: TestClient) -> None:
    page = client.get("/ui/credentials", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/ui/login")
    start = client.get("/ui/oauth/google/start", follow_redirects=False)
    assert start.status_code == 303 and start.headers["location"].startswith("/ui/login")


# -- a node with an OAuth2 credential, through the executor -------------------------------

GMAIL_SEND = "6c27abc2-e51d-499e-a85f-5a0041ba94f0"


def send_graph(record_id: str) -> dict[str, object]:
    ref = {"id": record_id, "provider": "google", "type": "oauth2", "title": "Google account"}
    send = {"credentials": ref, "to": ["bob@example.com"], "subject": "Hi", "body": "Hello"}
    return {
        "name": "send",
        "nodes": [{"id": "send", "block_id": GMAIL_SEND, "input_default": send}],
        "links": [],
    }


def run_send(client: TestClient, key: str, settings: Settings, record_id: str) -> str:
    alice = {"Authorization": f"Bearer {key}"}
    made = client.post(f"{API}/graphs", json=send_graph(record_id), headers=alice)
    assert made.status_code == 201, made.text
    run_id: str = client.post(
        f"{API}/graphs/{made.json()['id']}/execute", json={"inputs": {}}, headers=alice
    ).json()["id"]
    drain(settings)
    return run_id


def test_a_node_runs_with_the_token_refreshed_just_before(
    client: TestClient,
    store: Store,
    settings: Settings,
    alice_key: str,
    oauth: OAuthServer,
    gmail: GmailServer,
) -> None:
    record = manager(settings, store).add_oauth("alice", "google", granted(oauth, expires_in=20))
    gmail.token = "ya29.access-1"  # the first token the fake authorization server gives

    # A lease that outlasts a loaded machine's stalls: this test is about the token, and a
    # lapsed lease would run the node (and send the mail) a second time.
    steady = settings.model_copy(update={"lease_seconds": 30.0})
    run_id = run_send(client, alice_key, steady, record.id)

    alice = {"Authorization": f"Bearer {alice_key}"}
    run = client.get(f"{API}/executions/{run_id}", headers=alice).json()
    nodes = client.get(f"{API}/executions/{run_id}/nodes", headers=alice).text
    assert run["status"] == "COMPLETED", (run, nodes)
    assert '"sent-1"' in nodes
    assert oauth.access_tokens == ["ya29.access-1"]
    assert gmail.requests[-1].headers["authorization"] == "Bearer ya29.access-1"
    for token in ["ya29.access-1", "ya29.old-access", "1//refresh-test"]:
        assert token not in nodes and token not in str(run)


def test_a_hanging_refresh_holds_up_only_its_own_node(
    client: TestClient,
    store: Store,
    settings: Settings,
    alice_key: str,
    oauth: OAuthServer,
    gmail: GmailServer,
) -> None:
    """The refresh runs on the executor's credential threads: while the provider hangs,
    another run is claimed, runs and finishes through the executor's database thread."""
    record = manager(settings, store).add_oauth("alice", "google", granted(oauth, expires_in=20))
    gmail.token = "ya29.access-1"
    alice = {"Authorization": f"Bearer {alice_key}"}
    made = client.post(f"{API}/graphs", json=send_graph(record.id), headers=alice)
    sending = client.post(
        f"{API}/graphs/{made.json()['id']}/execute", json={"inputs": {}}, headers=alice
    ).json()["id"]
    oauth.refresh_gate = threading.Event()
    steady = settings.model_copy(update={"lease_seconds": 30.0})
    executor = threading.Thread(target=drain, args=(steady,))
    executor.start()

    def status(run_id: str) -> str:
        got: str = client.get(f"{API}/executions/{run_id}", headers=alice).json()["status"]
        return got

    try:
        assert oauth.refresh_arrived.wait(30), "the executor never asked for a refresh"
        calc = client.post(f"{API}/graphs", json=calculator_graph(), headers=alice).json()["id"]
        other = client.post(
            f"{API}/graphs/{calc}/execute", json={"inputs": {"Input": 8}}, headers=alice
        ).json()["id"]
        # Bounded below the token request's own timeout: the refresh is still hanging.
        deadline = time.monotonic() + 15
        while status(other) not in FINAL and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status(other) == "COMPLETED"
        assert not oauth.refresh_gate.is_set() and status(sending) == "RUNNING"
    finally:
        oauth.refresh_gate.set()
        executor.join(60)
    assert not executor.is_alive()
    assert status(sending) == "COMPLETED"
    assert oauth.access_tokens == ["ya29.access-1"]


def test_a_revoked_grant_fails_the_node_asking_to_reconnect(
    client: TestClient,
    store: Store,
    settings: Settings,
    alice_key: str,
    oauth: OAuthServer,
    gmail: GmailServer,
) -> None:
    record = manager(settings, store).add_oauth("alice", "google", granted(oauth, expires_in=-1))
    oauth.revoked.add("1//refresh-test")

    run_id = run_send(client, alice_key, settings, record.id)

    alice = {"Authorization": f"Bearer {alice_key}"}
    nodes = client.get(f"{API}/executions/{run_id}/nodes", headers=alice).text
    assert "invalid_grant" in nodes and "connect the account again" in nodes
    assert client.get(f"{API}/executions/{run_id}", headers=alice).json()["status"] == "FAILED"
    assert gmail.requests == []


@pytest.mark.parametrize("revocation", ["works", "fails"])
def test_deleting_an_oauth2_credential_revokes_its_grant(
    revocation: str,
    client: TestClient,
    store: Store,
    settings: Settings,
    alice_key: str,
    oauth: OAuthServer,
) -> None:
    record = manager(settings, store).add_oauth("alice", "google", granted(oauth, expires_in=600))
    if revocation == "fails":
        oauth.script(r"/revoke", Json({"error": "server_error"}, 503))

    alice = {"Authorization": f"Bearer {alice_key}"}
    assert client.delete(f"{API}/credentials/{record.id}", headers=alice).status_code == 204

    assert store.list_credentials("alice") == []
    revokes = [r for r in oauth.requests if r.path == "/revoke"]
    assert len(revokes) == 1 and b"token=1%2F%2Frefresh-test" in revokes[0].body
    assert oauth.revoked == ({"1//refresh-test"} if revocation == "works" else set())
