"""Webhook triggers over the real API: signatures, bearer secrets, replays, limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.data.graph import Graph, Link, Node
from backend.data.store import Store
from backend.server.app import create_app
from backend.server.hook_delivery import signature
from backend.settings import Settings
from backend.webhooks.block import GenericWebhookTriggerBlock
from tests.api.conftest import assert_error, drain
from tests.api.test_executions import create
from tests.graphs import AGENT_INPUT, AGENT_OUTPUT

API = "/api/v1"
BODY = {"action": "opened", "number": 7}


def echo_graph() -> dict[str, Any]:
    """AgentInput "event" -> AgentOutput "out"."""
    nodes = [
        Node(id="in", block_id=AGENT_INPUT, input_default={"name": "event"}),
        Node(id="out", block_id=AGENT_OUTPUT, input_default={"name": "out"}),
    ]
    links = [Link(source_id="in", source_name="result", sink_id="out", sink_name="value")]
    return Graph(name="echo", nodes=nodes, links=links).to_json()


def trigger_graph() -> dict[str, Any]:
    """AutoGPT's generic webhook trigger -> AgentOutput "payload" (as an export has it)."""
    return {
        "name": "on webhook",
        "nodes": [
            {
                "id": "trigger",
                "block_id": GenericWebhookTriggerBlock.id,
                "input_default": {"constants": {"team": "support"}},
            },
            {"id": "out", "block_id": AGENT_OUTPUT, "input_default": {"name": "payload"}},
        ],
        "links": [
            {
                "source_id": "trigger",
                "source_name": "payload",
                "sink_id": "out",
                "sink_name": "value",
            }
        ],
    }


def add_hook(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post(f"{API}/hooks", json=body, headers=headers)
    assert response.status_code == 201, response.text
    hook: dict[str, Any] = response.json()
    return hook


def deliver(
    client: TestClient,
    hook: dict[str, Any],
    body: bytes,
    content_type: str = "application/json",
    sign: bool = True,
    **headers: str,
) -> Any:
    sent = {"Content-Type": content_type, **headers}
    if sign:
        sent["X-Hub-Signature-256"] = signature(hook["secret"], body)
    return client.post(hook["path"], content=body, headers=sent)


def run_inputs(client: TestClient, headers: dict[str, str], run_id: str) -> Any:
    return client.get(f"{API}/executions/{run_id}", headers=headers).json()["inputs"]


def run_count(client: TestClient, headers: dict[str, str]) -> int:
    return len(client.get(f"{API}/executions", headers=headers).json()["items"])


@pytest.fixture
def hook(client: TestClient, alice: dict[str, str]) -> dict[str, Any]:
    return add_hook(client, alice, graph_id=create(client, alice, echo_graph()))


def test_a_signed_delivery_starts_a_run_with_the_body_as_its_input(
    client: TestClient, alice: dict[str, str], hook: dict[str, Any], settings: Settings
) -> None:
    assert hook["input"] == "event" and hook["auth"] == "hmac"
    assert hook["secret"].startswith("whsec_")
    body = json.dumps(BODY).encode()
    response = deliver(client, hook, body)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["status"] == "QUEUED" and answer["replayed"] is False
    drain(settings)
    run = client.get(f"{API}/executions/{answer['id']}", headers=alice).json()
    assert run["inputs"] == {"event": BODY} and run["outputs"] == {"out": [BODY]}


def test_the_secret_is_shown_once_and_never_again(
    client: TestClient, alice: dict[str, str], hook: dict[str, Any]
) -> None:
    listed = client.get(f"{API}/hooks", headers=alice).json()["items"]
    shown = client.get(f"{API}/hooks/{hook['id']}", headers=alice).json()
    assert hook["secret"] not in json.dumps([listed, shown])
    assert "secret" not in shown and [h["id"] for h in listed] == [hook["id"]]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        {"X-Hub-Signature-256": "garbage"},
    ],
)
def test_unsigned_or_badly_signed_deliveries_start_nothing(
    client: TestClient, alice: dict[str, str], hook: dict[str, Any], headers: dict[str, str]
) -> None:
    response = deliver(client, hook, b'{"a": 1}', sign=False, **headers)
    assert_error(response, 401, "unauthorized")
    assert run_count(client, alice) == 0


def test_a_signature_over_another_body_is_refused(
    client: TestClient, alice: dict[str, str], hook: dict[str, Any]
) -> None:
    forged = signature(hook["secret"], b'{"a": 1}')
    response = deliver(client, hook, b'{"a": 2}', sign=False, **{"X-Hub-Signature-256": forged})
    assert_error(response, 401, "unauthorized")
    assert run_count(client, alice) == 0


def test_an_api_key_is_no_hook_secret_and_a_hook_secret_is_no_api_key(
    client: TestClient, alice: dict[str, str], settings: Settings
) -> None:
    graph_id = create(client, alice, echo_graph())
    bearer = add_hook(client, alice, graph_id=graph_id, auth="bearer")
    hmac_hook = add_hook(client, alice, graph_id=graph_id)
    body = b'{"a": 1}'
    # Alice's own API key opens neither hook.
    for target in (bearer, hmac_hook):
        response = client.post(
            target["path"], content=body, headers={**alice, "Content-Type": "application/json"}
        )
        assert_error(response, 401, "unauthorized")
    # The bearer hook's secret is accepted there...
    accepted = client.post(
        bearer["path"],
        content=body,
        headers={"Authorization": f"Bearer {bearer['secret']}", "Content-Type": "application/json"},
    )
    assert accepted.status_code == 202, accepted.text
    # ...and as nothing else: not as an API key, not for the other hook.
    as_key = {"Authorization": f"Bearer {bearer['secret']}"}
    assert_error(client.get(f"{API}/hooks", headers=as_key), 401, "unauthorized")
    assert_error(client.get(f"{API}/executions", headers=as_key), 401, "unauthorized")
    wrong_hook = client.post(
        hmac_hook["path"], content=body, headers={**as_key, "Content-Type": "application/json"}
    )
    assert_error(wrong_hook, 401, "unauthorized")
    assert run_count(client, alice) == 1


def test_a_repeated_delivery_id_returns_the_first_run(
    client: TestClient, alice: dict[str, str], hook: dict[str, Any]
) -> None:
    body = b'{"n": 1}'
    first = deliver(client, hook, body, **{"X-Delivery-Id": "d-1"}).json()
    again = deliver(client, hook, body, **{"X-Delivery-Id": "d-1"}).json()
    assert again == {**first, "replayed": True}
    github = deliver(client, hook, body, **{"X-GitHub-Delivery": "d-1"}).json()
    assert github["id"] == first["id"]
    other = deliver(client, hook, body, **{"X-Delivery-Id": "d-2"}).json()
    assert other["id"] != first["id"]
    # Without an id every delivery is a new one.
    assert deliver(client, hook, body).json()["id"] != deliver(client, hook, body).json()["id"]
    assert run_count(client, alice) == 4
    changed = deliver(client, hook, b'{"n": 2}', **{"X-Delivery-Id": "d-1"})
    assert_error(changed, 409, "conflict")


def test_deliveries_over_the_rate_limit_get_429_with_retry_after(
    store: Store, alice: dict[str, str], settings: Settings
) -> None:
    limited = settings.model_copy(update={"hook_rate_limit_per_minute": 2})
    with TestClient(create_app(limited, store)) as client:
        hook = add_hook(client, alice, graph_id=create(client, alice, echo_graph()))
        assert deliver(client, hook, b"{}").status_code == 202
        assert deliver(client, hook, b"{}", **{"X-Delivery-Id": "x"}).status_code == 202
        refused = deliver(client, hook, b"{}")
        error = assert_error(refused, 429, "rate_limited")
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert error["details"]["retry_after_seconds"] <= 60
        # A replay is no new run: it is answered even over the limit.
        assert deliver(client, hook, b"{}", **{"X-Delivery-Id": "x"}).status_code == 202
        # Another hook has its own budget.
        other = add_hook(client, alice, graph_id=create(client, alice, echo_graph()))
        assert deliver(client, other, b"{}").status_code == 202
        assert run_count(client, alice) == 3


def test_an_oversized_delivery_gets_413_and_starts_nothing(
    store: Store, alice: dict[str, str], settings: Settings
) -> None:
    small = settings.model_copy(update={"hook_max_body_bytes": 100})
    with TestClient(create_app(small, store)) as client:
        hook = add_hook(client, alice, graph_id=create(client, alice, echo_graph()))
        body = json.dumps({"text": "x" * 200}).encode()
        assert_error(deliver(client, hook, body), 413, "body_too_large")
        assert run_count(client, alice) == 0


def test_bodies_by_content_type(
    client: TestClient, alice: dict[str, str], hook: dict[str, Any]
) -> None:
    form = deliver(client, hook, b"a=1&b=x&b=y&c=", "application/x-www-form-urlencoded")
    assert run_inputs(client, alice, form.json()["id"]) == {
        "event": {"a": "1", "b": ["x", "y"], "c": ""}
    }
    text = deliver(client, hook, "héllo".encode(), "text/plain; charset=utf-8")
    assert run_inputs(client, alice, text.json()["id"]) == {"event": "héllo"}
    assert_error(
        deliver(client, hook, b"\x00\x01", "application/octet-stream"),
        415,
        "unsupported_media_type",
    )
    assert_error(deliver(client, hook, b"{}", ""), 415, "unsupported_media_type")
    assert_error(deliver(client, hook, b"{nope"), 400, "malformed_json")
    assert_error(deliver(client, hook, b"\xff", "text/plain"), 422, "invalid_input")
    assert run_count(client, alice) == 2


def test_a_disabled_or_unknown_hook_is_not_found(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], hook: dict[str, Any]
) -> None:
    url = f"{API}/hooks/{hook['id']}"
    assert_error(client.patch(url, json={"enabled": False}, headers=bob), 404, "not_found")
    assert_error(client.get(url, headers=bob), 404, "not_found")
    assert client.patch(url, json={"enabled": False}, headers=alice).json()["enabled"] is False
    assert_error(deliver(client, hook, b"{}"), 404, "not_found")
    client.patch(url, json={"enabled": True}, headers=alice)
    assert deliver(client, hook, b"{}").status_code == 202
    assert_error(deliver(client, {**hook, "path": f"{API}/hooks/hk_nope"}, b"{}"), 404, "not_found")
    assert client.delete(url, headers=alice).status_code == 204
    assert_error(deliver(client, hook, b"{}"), 404, "not_found")


def test_autogpts_generic_webhook_trigger_receives_the_payload(
    client: TestClient, alice: dict[str, str], settings: Settings
) -> None:
    created = client.post(f"{API}/graphs", json=trigger_graph(), headers=alice).json()
    assert created["has_external_trigger"] is True
    hook = add_hook(client, alice, graph_id=created["id"])
    assert hook["input"] == "trigger"
    accepted = deliver(client, hook, json.dumps(BODY).encode()).json()
    drain(settings)
    run = client.get(f"{API}/executions/{accepted['id']}", headers=alice).json()
    assert run["status"] == "COMPLETED" and run["outputs"] == {"payload": [BODY]}


def test_a_hook_needs_a_known_input(client: TestClient, alice: dict[str, str]) -> None:
    graph_id = create(client, alice, echo_graph())
    response = client.post(
        f"{API}/hooks", json={"graph_id": graph_id, "input": "nope"}, headers=alice
    )
    error = assert_error(response, 422, "invalid_input")
    assert "event" in error["message"]
