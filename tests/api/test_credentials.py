"""/api/v1/credentials over real HTTP: CRUD, tenancy, bad input, and where the secret is not.

Each test runs on SQLite and on PostgreSQL. The secret goes in once; it must then be
absent from every answer, every log line and the database's own bytes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from backend.data.credentials_manager import CredentialsManager
from backend.providers.credentials import CredentialsMetaInput
from backend.settings import Settings
from tests.api.conftest import LiveServer, http

API = "/api/v1"
SECRET = "sk-proj-Zq8vW3xT5nL0aB7cD9eF1gH2jK4mNpRs"
# A stretch of the secret the hint does not show: finding it anywhere means a leak.
SECRET_MIDDLE = SECRET[6:-6]


def api_key_body(**overrides: Any) -> dict[str, Any]:
    return {
        "provider": "openai",
        "type": "api_key",
        "title": "work",
        "api_key": SECRET,
        **overrides,
    }


@pytest.fixture
def alice_http(live: LiveServer, alice: dict[str, str]) -> httpx.Client:
    return http(live, alice)


@pytest.fixture
def bob_http(live: LiveServer, bob: dict[str, str]) -> httpx.Client:
    return http(live, bob)


def test_add_list_read_and_delete(alice_http: httpx.Client) -> None:
    created = alice_http.post(f"{API}/credentials", json=api_key_body())
    assert created.status_code == 201, created.text
    record = created.json()
    assert set(record) == {
        "id",
        "provider",
        "type",
        "title",
        "hint",
        "scopes",
        "created_at",
        "updated_at",
    }
    assert (record["provider"], record["type"], record["title"]) == ("openai", "api_key", "work")
    assert record["hint"] == "sk-...NpRs"
    # "type" may be left out: an API key is the common case.
    other = alice_http.post(f"{API}/credentials", json={"provider": "anthropic", "api_key": SECRET})
    assert other.status_code == 201 and other.json()["type"] == "api_key"

    listed = alice_http.get(f"{API}/credentials").json()["items"]
    assert [item["id"] for item in listed] == [record["id"], other.json()["id"]]
    only = alice_http.get(f"{API}/credentials", params={"provider": "anthropic"}).json()
    assert [item["id"] for item in only["items"]] == [other.json()["id"]]
    assert alice_http.get(f"{API}/credentials/{record['id']}").json() == record

    assert alice_http.delete(f"{API}/credentials/{record['id']}").status_code == 204
    missing = alice_http.get(f"{API}/credentials/{record['id']}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert alice_http.delete(f"{API}/credentials/{record['id']}").status_code == 404


def test_another_users_credentials_answer_404(
    alice_http: httpx.Client, bob_http: httpx.Client
) -> None:
    record = alice_http.post(f"{API}/credentials", json=api_key_body()).json()

    assert bob_http.get(f"{API}/credentials").json() == {"items": []}
    for method in ("GET", "DELETE"):
        answer = bob_http.request(method, f"{API}/credentials/{record['id']}")
        assert answer.status_code == 404, method
        assert answer.json()["error"]["message"] == f"credentials {record['id']} not found"
    assert alice_http.get(f"{API}/credentials/{record['id']}").status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/credentials?provider=%00"),
        ("GET", "/credentials/a%00b"),
        ("DELETE", "/credentials/a%00b"),
        ("GET", "/credentials/" + "x" * 65),
    ],
)
def test_unusable_ids_and_filters_are_422(alice_http: httpx.Client, method: str, path: str) -> None:
    answer = alice_http.request(method, f"{API}{path}")
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_input"


def test_user_password_credentials_hint_the_user_never_the_password(
    alice_http: httpx.Client,
) -> None:
    body = {
        "provider": "smtp",
        "type": "user_password",
        "username": "mailer@example.com",
        "password": SECRET,
    }
    answer = alice_http.post(f"{API}/credentials", json=body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["hint"] == "mai....com"
    assert SECRET_MIDDLE not in answer.text


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"type": "api_key", "api_key": SECRET}, "provider"),
        (api_key_body(provider="Open AI"), "provider"),
        (api_key_body(api_key=""), "api_key"),
        (api_key_body(api_key="  \n"), "api_key must not be empty"),
        (api_key_body(api_key=12345), "api_key"),
        (api_key_body(type="oauth2"), "oauth2"),
        (api_key_body(type=["api_key"]), "tag"),
        (api_key_body(title="t" * 300), "title"),
        (api_key_body(title="a\x00b"), "body.title: NUL character"),
        (api_key_body(api_key=SECRET + "\x00"), "body.api_key: NUL character"),
        (
            {"provider": "smtp", "type": "user_password", "username": "\x00" * 20, "password": "p"},
            "body.username: NUL character",
        ),
        ({"provider": "smtp", "type": "user_password", "password": SECRET}, "username"),
        ({"provider": "smtp", "type": "user_password", "username": "u"}, "password"),
    ],
)
def test_bad_input_is_422_without_the_secret(
    alice_http: httpx.Client, body: dict[str, Any], problem: str
) -> None:
    answer = alice_http.post(f"{API}/credentials", json=body)
    assert answer.status_code == 422, answer.text
    assert problem in answer.json()["error"]["message"]
    assert SECRET_MIDDLE not in answer.text
    assert alice_http.get(f"{API}/credentials").json() == {"items": []}


def test_the_secret_is_in_no_answer_log_line_or_database_byte(
    alice_http: httpx.Client,
    app: FastAPI,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [alice_http.post(f"{API}/credentials", json=api_key_body())]
    record = answers[0].json()
    answers += [
        alice_http.get(f"{API}/credentials"),
        alice_http.get(f"{API}/credentials/{record['id']}"),
        alice_http.post(f"{API}/credentials", json=api_key_body(provider="BAD")),
        alice_http.get("/openapi.json"),
    ]
    # The executor's way in: the decrypted credential, which keeps the secret wrapped.
    manager: CredentialsManager = app.state.credentials
    ref = CredentialsMetaInput(id=record["id"], provider="openai")
    resolved = manager.resolve("alice", ref, "openai")
    assert resolved.api_key is not None and resolved.api_key.get_secret_value() == SECRET
    logging.getLogger("test").info("resolved %s %r", resolved, resolved)

    for answer in answers:
        assert SECRET_MIDDLE not in answer.text, answer.request.url
    assert "credentials" in caplog.text and SECRET_MIDDLE not in caplog.text
    for blob in stored_bytes(settings):
        assert blob.count(SECRET_MIDDLE.encode()) == 0


def stored_bytes(settings: Settings) -> list[bytes]:
    """Every byte the database holds: its files on SQLite, the tables' text on PostgreSQL."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        database = Path(sa.make_url(url).database or "")
        files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
        assert database in files
        return [p.read_bytes() for p in files]
    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        return [
            "\n".join(str(row) for row in conn.execute(f'SELECT * FROM "{table}"')).encode()
            for table in tables
        ]
