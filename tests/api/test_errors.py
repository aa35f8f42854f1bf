"""Bad requests get 4xx in the common JSON shape, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient

from tests.api.conftest import calculator_graph

API = "/api/v1"


def assert_error(response: object, status: int, code: str) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    error = response.json()["error"]  # type: ignore[attr-defined]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert error["message"]


def test_malformed_json_is_400(client: TestClient, alice: dict[str, str]) -> None:
    headers = {**alice, "Content-Type": "application/json"}
    for body in (b"{", b"{'a': 1}", b"\xff\xfe"):
        response = client.post(f"{API}/graphs", content=body, headers=headers)
        assert_error(response, 400, "malformed_json")


def test_missing_body_is_422(client: TestClient, alice: dict[str, str]) -> None:
    assert_error(client.post(f"{API}/graphs", headers=alice), 422, "invalid_input")


def test_body_over_the_limit_is_413_whether_declared_or_streamed(
    client: TestClient, alice: dict[str, str]
) -> None:
    # The test settings limit bodies to 64 KiB.
    big = {**calculator_graph(), "description": "x" * 70_000}
    assert_error(client.post(f"{API}/graphs", json=big, headers=alice), 413, "body_too_large")

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(20):
            yield b"y" * 4096
        yield b'", "nodes": []}'

    headers = {**alice, "Content-Type": "application/json"}
    response = client.post(f"{API}/graphs", content=chunks(), headers=headers)
    assert_error(response, 413, "body_too_large")
    # Just under the limit is fine.
    ok = {**calculator_graph(), "description": "x" * 50_000}
    assert client.post(f"{API}/graphs", json=ok, headers=alice).status_code == 201


def test_unknown_route_and_wrong_method_use_the_error_shape(
    client: TestClient, alice: dict[str, str]
) -> None:
    assert_error(client.get(f"{API}/nothing-here", headers=alice), 404, "not_found")
    assert_error(client.patch(f"{API}/graphs", headers=alice), 405, "method_not_allowed")


def test_bad_path_and_query_values_are_422(client: TestClient, alice: dict[str, str]) -> None:
    assert_error(client.get(f"{API}/graphs/x?version=abc", headers=alice), 422, "invalid_input")
    assert_error(client.get(f"{API}/graphs?limit=-1", headers=alice), 422, "invalid_input")
    assert_error(client.get(f"{API}/graphs?cursor=zz", headers=alice), 422, "invalid_input")
    response = client.post(f"{API}/graphs/x/execute", json={"inputs": [1]}, headers=alice)
    assert_error(response, 422, "invalid_input")
