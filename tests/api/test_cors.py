"""Cross-origin calls: none by default; the origins an operator lists, and only those."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from backend.data.store import Store
from backend.server.app import create_app
from backend.settings import Settings

APP_ORIGIN = "https://app.example.com"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


def preflight(client: TestClient, origin: str) -> dict[str, str]:
    answer = client.options("/api/v1/graphs", headers={"Origin": origin, **PREFLIGHT})
    return dict(answer.headers)


def test_no_origin_is_allowed_by_default(client: TestClient, alice: dict[str, str]) -> None:
    assert "access-control-allow-origin" not in preflight(client, APP_ORIGIN)
    answer = client.get("/api/v1/executions", headers={"Origin": APP_ORIGIN, **alice})
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers


def test_listed_origins_may_call_and_others_may_not(
    settings: Settings, store: Store, alice: dict[str, str]
) -> None:
    listed = settings.model_copy(update={"cors_allow_origins": f"{APP_ORIGIN}, http://[::1]:3000"})
    with TestClient(create_app(listed, store)) as client:
        allowed = preflight(client, APP_ORIGIN)
        assert allowed["access-control-allow-origin"] == APP_ORIGIN
        assert "authorization" in allowed["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in allowed
        assert "access-control-allow-origin" not in preflight(client, "https://evil.example")

        answer = client.get("/api/v1/executions", headers={"Origin": APP_ORIGIN, **alice})
        assert answer.headers["access-control-allow-origin"] == APP_ORIGIN
        # CORS is the browser's rule, not auth: a key is still needed.
        assert client.get("/api/v1/executions", headers={"Origin": APP_ORIGIN}).status_code == 401


@pytest.mark.parametrize("bad", ["app.example.com", "https://app.example.com/path", "*", "ftp://x"])
def test_a_value_that_is_not_an_origin_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="is not an origin"):
        Settings(cors_allow_origins=f"https://ok.example, {bad}")
