"""Bad requests get 4xx in the common JSON shape, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import assert_error, calculator_graph

API = "/api/v1"


NOT_JSON = [
    b"{",
    b"{'a': 1}",
    b"\xff\xfe",
    b"\xff",
    b"   ",
    b'{"a": 1} trailing',
    b"NaN",
    b'{"a": "\xed\xa0\x80"}',  # a surrogate written out as UTF-8 bytes
    '{"a": 1}'.encode("utf-16"),
    b'\xef\xbb\xbf{"a": 1}',  # UTF-8 with a byte order mark
]


@pytest.fixture
def ids(client: TestClient, alice: dict[str, str]) -> dict[str, str]:
    gid = client.post(f"{API}/graphs", json=calculator_graph(), headers=alice).json()["id"]
    rid = client.post(f"{API}/graphs/{gid}/execute", json={}, headers=alice).json()["id"]
    return {"gid": gid, "rid": rid}


BODY_ROUTES = [
    ("POST", "/graphs"),
    ("PUT", "/graphs/{gid}"),
    ("POST", "/graphs/{gid}/execute"),
    ("POST", "/executions/{rid}/cancel"),  # takes no body, but a body it is sent is read
]


@pytest.mark.parametrize("content_type", ["application/json", "application/x+json; charset=x"])
def test_every_body_that_is_not_json_is_malformed_json(
    client: TestClient, alice: dict[str, str], ids: dict[str, str], content_type: str
) -> None:
    headers = {**alice, "Content-Type": content_type}
    for method, path in BODY_ROUTES:
        for body in NOT_JSON:
            response = client.request(
                method, API + path.format(**ids), content=body, headers=headers
            )
            error = assert_error(response, 400, "malformed_json")
            assert error["details"][0]["loc"] == ["body"], (path, body)
    # The run was not cancelled by any of it.
    assert client.get(f"{API}/executions/{ids['rid']}", headers=alice).json()["status"] == "QUEUED"


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "json"],
)
def test_a_body_not_declared_as_json_is_415(
    client: TestClient, alice: dict[str, str], ids: dict[str, str], content_type: str | None
) -> None:
    headers = alice if content_type is None else {**alice, "Content-Type": content_type}
    for method, path in BODY_ROUTES:
        url = API + path.format(**ids)
        response = client.request(method, url, content=b'{"inputs": {}}', headers=headers)
        assert_error(response, 415, "unsupported_media_type")
    runs = client.get(f"{API}/executions", headers=alice).json()["items"]
    assert [run["id"] for run in runs] == [ids["rid"]]


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"],
)
def test_json_media_types_are_accepted(
    client: TestClient, alice: dict[str, str], ids: dict[str, str], content_type: str
) -> None:
    url = f"{API}/graphs/{ids['gid']}/execute"
    response = client.post(
        url, content=b'{"inputs": {"Input": 1}}', headers={**alice, "Content-Type": content_type}
    )
    assert response.status_code == 202, response.text


def test_an_empty_body_is_no_body(
    client: TestClient, alice: dict[str, str], ids: dict[str, str]
) -> None:
    headers = {**alice, "Content-Type": "text/plain"}
    url = f"{API}/graphs/{ids['gid']}/execute"
    assert client.post(url, content=b"", headers=headers).status_code == 202
    assert_error(client.post(f"{API}/graphs", content=b"", headers=headers), 422, "invalid_input")


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
