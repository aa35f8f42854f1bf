"""Hostile input at the API edge: a 4xx in the error envelope, and nothing stored.

Each case is what a user who writes graphs and calls the API sent; every one ran on
both databases, where the answer used to be a 500 (or a 202 whose run could never be
read back).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.data.store import Store
from tests.api.conftest import assert_error, calculator_graph

API = "/api/v1"
JSON = {"Content-Type": "application/json"}
INT_TOO_BIG = "99999999999999999999"


@pytest.fixture
def gid(client: TestClient, alice: dict[str, str]) -> str:
    graph_id: str = client.post(f"{API}/graphs", json=calculator_graph(), headers=alice).json()[
        "id"
    ]
    return graph_id


def stored(store: Store) -> tuple[int, int, int]:
    """alice's graph versions, runs and events: what a refused request must not add."""
    graphs = store.list_graphs("alice", limit=1000)
    runs = store.list_runs(user_id="alice", limit=1000)
    events = sum(len(store.events(run.id)) for run in runs)
    return len(graphs), len(runs), events


def graph_body(**changes: Any) -> bytes:
    return json.dumps({**calculator_graph(), **changes}).encode()


def node_body(**node_changes: Any) -> bytes:
    graph = calculator_graph()
    graph["nodes"][0] = {**graph["nodes"][0], **node_changes}
    graph.pop("links", None)  # links then come from the nodes
    return json.dumps(graph).encode()


def cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def nested(depth: int) -> bytes:
    return b'{"inputs": {"Input": ' + b"[" * depth + b"]" * depth + b"}}"


# (method, path, body, status, code, where): ``where`` is the start of details[0].loc.
REFUSED: dict[str, tuple[str, str, bytes | None, int, str, list[str] | None]] = {
    # Strings that cannot be stored: lone surrogates and NUL, in bodies, keys, queries, paths.
    "surrogate in run input": (
        "POST", "/graphs/{gid}/execute", b'{"inputs": {"Input": "\\ud800"}}',
        422, "invalid_input", ["body", "inputs", "Input"],
    ),
    "low surrogate in run input key": (
        "POST", "/graphs/{gid}/execute", b'{"inputs": {"a\\udc00": 1}}',
        422, "invalid_input", ["body", "inputs", "a\\udc00"],
    ),
    "surrogate in graph name": (
        "POST", "/graphs", graph_body(name="\ud800"), 422, "invalid_input", ["body", "name"],
    ),
    "surrogate in a default of a new version": (
        "PUT", "/graphs/{gid}", node_body(input_default={"name": "x\udfff"}),
        422, "invalid_input", ["body", "nodes", "0", "input_default", "name"],
    ),
    "NUL in graph name": (
        "POST", "/graphs", graph_body(name="a\x00"), 422, "invalid_input", ["body", "name"],
    ),
    "NUL in a query value": (
        "GET", "/executions?graph_id=%00", None, 422, "invalid_input", ["query", "graph_id"],
    ),
    "NUL in a path id": ("GET", "/executions/a%00b", None, 422, "invalid_input", ["path"]),
    "NUL in a graph path id": (
        "POST", "/graphs/%00/execute", b"{}", 422, "invalid_input", ["path"],
    ),
    # Numbers: out of the float range, NaN/Infinity, integers too big for a column.
    "1e400 in run input": (
        "POST", "/graphs/{gid}/execute", b'{"inputs": {"Input": 1e400}}',
        422, "invalid_input", ["body", "inputs", "Input"],
    ),
    "10**400 in run input": (
        "POST", "/graphs/{gid}/execute", b'{"inputs": {"Input": 1' + b"0" * 400 + b"}}",
        422, "invalid_input", ["body", "inputs", "Input"],
    ),
    "5000-digit integer in a default": (
        "POST", "/graphs", node_body(input_default={"value": 10**300}).replace(
            b"1" + b"0" * 300, b"9" * 5000
        ),
        422, "invalid_input", ["body", "nodes", "0", "input_default", "value"],
    ),
    "NaN in run input": (
        "POST", "/graphs/{gid}/execute", b'{"inputs": {"Input": NaN}}', 400, "malformed_json",
        ["body"],
    ),
    "-Infinity in graph": (
        "POST", "/graphs", b'{"name": "n", "nodes": [], "x": -Infinity}', 400, "malformed_json",
        ["body"],
    ),
    "version query too big": (
        "GET", "/graphs/{gid}?version=" + INT_TOO_BIG, None, 422, "invalid_input",
        ["query", "version"],
    ),
    "version query just over 32 bits": (
        "GET", "/graphs/{gid}?version=2147483648", None, 422, "invalid_input",
        ["query", "version"],
    ),
    "version body too big": (
        "POST", "/graphs/{gid}/execute", b'{"version": ' + INT_TOO_BIG.encode() + b"}",
        422, "invalid_input", ["body", "version"],
    ),
    "events after too big": (
        "GET", "/executions/{rid}/events?after=" + INT_TOO_BIG, None, 422, "invalid_input",
        ["query", "after"],
    ),
    # Nesting.
    "5000 levels": (
        # Deeper than the parser's stack: the place is not known, only that it is too deep.
        "POST", "/graphs/{gid}/execute", nested(5000), 422, "invalid_input", ["body"],
    ),
    "65 levels": (
        "POST", "/graphs/{gid}/execute", nested(63), 422, "invalid_input",
        ["body", "inputs", "Input"],
    ),
    # Graph JSON of the wrong shape.
    "nodes is a number": ("POST", "/graphs", b'{"nodes": 5}', 422, "invalid_input", None),
    "nodes is true": ("POST", "/graphs", b'{"nodes": true}', 422, "invalid_input", None),
    "nodes is text": ("POST", "/graphs", b'{"nodes": "abc"}', 422, "invalid_input", None),
    "node is a number": ("POST", "/graphs", b'{"nodes": [5]}', 422, "invalid_input", None),
    "input_links is a number": (
        "POST", "/graphs", node_body(input_links=5), 422, "invalid_input", None,
    ),
    "input_links holds a number": (
        "POST", "/graphs", node_body(input_links=[5]), 422, "invalid_input", None,
    ),
    "output_links is an object": (
        "PUT", "/graphs/{gid}", node_body(output_links={"a": 1}), 422, "invalid_input", None,
    ),
    "link parts are not text": (
        "POST", "/graphs", node_body(input_links=[{"source_id": [], "sink_id": {}}]),
        422, "invalid_input", None,
    ),
    "links is a number": ("POST", "/graphs", graph_body(links=5), 422, "invalid_input", None),
    "graph name too long": (
        "POST", "/graphs", graph_body(name="n" * 256), 422, "invalid_input", None,
    ),
    "node id too long": ("POST", "/graphs", node_body(id="i" * 65), 422, "invalid_input", None),
    "unsafe attribute pin": (
        "POST", "/graphs", node_body(input_default={"name": "x", "value_@___class__": 1}),
        422, "invalid_input", None,
    ),
    "inputs is a list": (
        "POST", "/graphs/{gid}/execute", b'{"inputs": [1]}', 422, "invalid_input",
        ["body", "inputs"],
    ),
    "body is a list": ("POST", "/graphs", b"[1, 2]", 422, "invalid_input", ["body"]),
    # Cursors: overflowing, unstorable, deep, not ours.
    "cursor with a 400-digit time": (
        "GET", "/graphs?cursor=" + cursor(b"[1" + b"0" * 400 + b', "a"]'), None,
        422, "invalid_input", ["query", "cursor"],
    ),
    "cursor with a NUL id": (
        "GET", "/executions?cursor=" + cursor(b'[1, "\\u0000"]'), None,
        422, "invalid_input", ["query", "cursor"],
    ),
    "cursor with a surrogate id": (
        "GET", "/graphs?cursor=" + cursor(b'[1, "\\ud800"]'), None,
        422, "invalid_input", ["query", "cursor"],
    ),
    "cursor nested deep": (
        "GET", "/executions?cursor=" + cursor(b"[" * 3000 + b"]" * 3000), None,
        422, "invalid_input", ["query", "cursor"],
    ),
    "cursor with NaN": (
        "GET", "/graphs?cursor=" + cursor(b'[NaN, "a"]'), None,
        422, "invalid_input", ["query", "cursor"],
    ),
    "cursor not base64": (
        "GET", "/graphs?cursor=%C3%A9%C3%A9", None, 422, "invalid_input", ["query", "cursor"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_hostile_input_is_refused_and_nothing_is_stored(
    case: str, client: TestClient, alice: dict[str, str], store: Store, gid: str
) -> None:
    method, path, body, status, code, where = REFUSED[case]
    rid = client.post(f"{API}/graphs/{gid}/execute", json={}, headers=alice).json()["id"]
    before = stored(store)
    url = API + path.format(gid=gid, rid=rid)
    response = client.request(method, url, content=body, headers={**alice, **JSON})
    error = assert_error(response, status, code)
    if where is not None:
        assert error["details"][0]["loc"][: len(where)] == where, error
    assert stored(store) == before
    # Whatever was refused, the user's lists still read back.
    assert client.get(f"{API}/executions", headers=alice).status_code == 200
    assert client.get(f"{API}/graphs", headers=alice).status_code == 200


def test_a_refused_string_is_named_in_the_message(
    client: TestClient, alice: dict[str, str], gid: str
) -> None:
    body = b'{"inputs": {"Input": "ok\\ud800"}}'
    response = client.post(f"{API}/graphs/{gid}/execute", content=body, headers={**alice, **JSON})
    error = assert_error(response, 422, "invalid_input")
    assert error["message"].startswith("body.inputs.Input: lone surrogate \\ud800 at position 2")


def test_nul_in_a_header_is_refused(client: TestClient, alice: dict[str, str]) -> None:
    response = client.get(f"{API}/graphs", headers={**alice, "X-Trace": "a\x00b"})
    error = assert_error(response, 422, "invalid_input")
    assert error["details"][0]["loc"] == ["header", "x-trace"]


@pytest.mark.parametrize(
    "header", ["Last-Event-ID", "last-event-id"], ids=["as sent", "lower case"]
)
def test_last_event_id_beyond_an_event_id_is_refused(
    client: TestClient, alice: dict[str, str], gid: str, header: str
) -> None:
    rid = client.post(f"{API}/graphs/{gid}/execute", json={}, headers=alice).json()["id"]
    url = f"{API}/executions/{rid}/events"
    response = client.get(url, headers={**alice, header: INT_TOO_BIG})
    assert_error(response, 422, "invalid_input")


@pytest.mark.parametrize(
    "path",
    [
        "/executions/" + "x" * 5000,
        "/executions/" + INT_TOO_BIG * 10,
        "/executions/%ff%fe/nodes",
        "/executions/..%2F..%2Fetc/events",
        "/graphs/" + "g" * 5000,
        "/graphs/1e400?version=1",
        "/graphs/%F0%9F%98%80",
    ],
)
def test_odd_or_huge_path_ids_are_not_found(
    client: TestClient, alice: dict[str, str], path: str
) -> None:
    assert_error(client.get(API + path, headers=alice), 404, "not_found")


def test_surrogate_pairs_are_kept_and_read_back(
    client: TestClient, alice: dict[str, str], gid: str
) -> None:
    body = b'{"inputs": {"Input": "smile \\ud83d\\ude00"}}'
    response = client.post(f"{API}/graphs/{gid}/execute", content=body, headers={**alice, **JSON})
    assert response.status_code == 202, response.text
    run = client.get(f"{API}/executions/{response.json()['id']}", headers=alice).json()
    assert run["inputs"] == {"Input": "smile \U0001f600"}
    created = client.post(
        f"{API}/graphs", content=graph_body(name="\U0001f600 agent"), headers={**alice, **JSON}
    )
    assert created.status_code == 201, created.text
    assert client.get(f"{API}/graphs/{created.json()['id']}", headers=alice).json()["name"] == (
        "\U0001f600 agent"
    )
    assert client.get(f"{API}/executions", headers=alice).status_code == 200
