"""Hostile requests to every route of the OpenAPI document: no answer is ever a 5xx.

Hypothesis builds each request from what an attacker would send: lone surrogates and
NUL in every string (keys, path ids, query values, headers), numbers past the float
range (``1e400``, ``10**400``), ``NaN``, nesting thousands of levels deep, the wrong
type in every field, graphs with unsafe dynamic pins, and declared media types that are
not JSON. Afterwards everything the user stored still reads back. Derandomized and
bounded, so a failure reproduces and the test stays fast.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.blocks.basic import AgentInputBlock, StoreValueBlock
from backend.data.store import Store
from backend.server.events import format_event
from tests.api.conftest import add_file, calculator_graph

EXAMPLES_PER_ROUTE = 40
BLOCK_IDS = [AgentInputBlock.id, StoreValueBlock.id]


@dataclass(frozen=True)
class Raw:
    """JSON text written as is: what ``json.dumps`` would never produce."""

    text: str


def to_json(value: Any) -> str:
    """JSON text for ``value``; lone surrogates become \\u escapes, as a client sends them."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, list):
        return "[" + ", ".join(to_json(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {to_json(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)  # NaN and Infinity come out as their non-JSON literals


def quoted(text: str) -> str:
    return urllib.parse.quote(text.encode("utf-8", "surrogatepass"), safe="")


hostile_text = st.sampled_from(
    ["\ud800", "a\udfff", "\x00", "x\x00y", "\U0001f600", "", " ", "%00", "../..", "é" * 50]
) | st.text(st.characters(codec=None), max_size=12)
hostile_number = (
    st.sampled_from([Raw("1e400"), Raw("-1e400"), Raw("1" + "0" * 400), Raw("9" * 5000)])
    | st.sampled_from([10**400, 2**31, 2**63, -1, 0, 1.5e308])
    | st.floats()
    | st.integers()
)
deep = st.integers(1, 3000).map(lambda depth: Raw("[" * depth + "]" * depth))
scalars = st.none() | st.booleans() | hostile_number | hostile_text
values = st.recursive(
    scalars | deep,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
    max_leaves=8,
)
pin_keys = hostile_text | st.sampled_from(
    [
        "Input",
        "name",
        "value",
        "input",
        "values_@___class__",
        "x_$_99999999",
        "v_@_a-b",
        "v_#_k",
        "d_$_0",
    ]
)
wrong_type = st.booleans().flatmap(lambda flat: scalars if flat else values)


def field(own: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field of its own shape half the time, of any wrong type otherwise."""
    return st.booleans().flatmap(lambda right: own if right else wrong_type)


link_fields = ("source_id", "source_name", "sink_id", "sink_name", "is_static")
links = field(
    st.lists(
        field(st.fixed_dictionaries({}, optional={k: field(hostile_text) for k in link_fields})),
        max_size=2,
    )
)
nodes = st.fixed_dictionaries(
    {},
    optional={
        "id": field(hostile_text),
        "block_id": field(st.sampled_from(BLOCK_IDS) | hostile_text),
        "input_default": field(st.dictionaries(pin_keys, values, max_size=3)),
        "metadata": field(
            st.fixed_dictionaries(
                {}, optional={"timeout_seconds": hostile_number, "max_attempts": hostile_number}
            )
        ),
        "input_links": links,
        "output_links": links,
    },
)
# Shapes that once answered 500, so every run tries them besides what it generates.
KNOWN_BAD_GRAPHS = [
    {"nodes": 5},
    {"nodes": True},
    {"nodes": 1.5},
    {"nodes": [{"id": "a", "block_id": StoreValueBlock.id, "input_links": 5}]},
    {"nodes": [{"id": "a", "block_id": StoreValueBlock.id, "output_links": [5]}]},
    {"nodes": [{"id": "a", "input_links": [{"source_id": [], "sink_id": {}}]}]},
    {"name": "n" * 300},
    {"name": "\ud800"},
    {"nodes": [{"id": "i" * 100, "block_id": StoreValueBlock.id}]},
    {"nodes": [{"id": "a", "block_id": StoreValueBlock.id, "input_default": {"x\x00": 1}}]},
]
graph_bodies = st.sampled_from(KNOWN_BAD_GRAPHS) | st.fixed_dictionaries(
    {},
    optional={
        "name": field(hostile_text),
        "nodes": field(st.lists(field(nodes), max_size=3)),
        "links": links,
        "graph": values,
    },
)
execute_bodies = st.fixed_dictionaries(
    {},
    optional={
        "inputs": field(st.dictionaries(pin_keys, values, max_size=3)),
        "version": field(hostile_number),
    },
)
content_types = st.sampled_from(
    ["application/json"] * 6 + ["application/x+json", "text/plain", "", "multipart/form-data"]
)


def cursors() -> st.SearchStrategy[str]:
    encoded = values.map(
        lambda v: base64.urlsafe_b64encode(to_json(v).encode("utf-8", "surrogatepass"))
    )
    return encoded.map(lambda raw: raw.decode().rstrip("=")) | hostile_text


def query_values(name: str) -> st.SearchStrategy[str]:
    if name == "cursor":
        return cursors()
    numbers = hostile_number.map(lambda n: n.text if isinstance(n, Raw) else str(n))
    return numbers | hostile_text | st.sampled_from(["QUEUED", "COMPLETED", "true"])


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    parameters: list[tuple[str, str]]  # (name, where)
    body: st.SearchStrategy[Any] | None


def routes(app: FastAPI) -> list[Route]:
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            params = [(p["name"], p["in"]) for p in operation.get("parameters", [])]
            body = None
            if "requestBody" in operation:
                body = execute_bodies if path.endswith("/execute") else graph_bodies
            found.append(Route(method.upper(), path, params, body))
    # Deleting the real graph first would leave the other routes only 404s to find.
    return sorted(found, key=lambda route: route.method == "DELETE")


@pytest.fixture
def known(client: TestClient, alice: dict[str, str], store: Store) -> dict[str, str]:
    """Real ids, so requests also get past the lookups; the run has ended, so its event
    stream replays and closes."""
    gid = client.post("/api/v1/graphs", json=calculator_graph(), headers=alice).json()["id"]
    rid = client.post(f"/api/v1/graphs/{gid}/execute", json={}, headers=alice).json()["id"]
    assert client.post(f"/api/v1/executions/{rid}/cancel", headers=alice).status_code == 202
    credential = {"provider": "openai", "type": "api_key", "api_key": "sk-fuzz-0123456789"}
    cid = client.post("/api/v1/credentials", json=credential, headers=alice).json()["id"]
    fid = add_file(store, b"\x89PNG fuzz", run=rid).id
    schedule = {"graph_id": gid, "cron": "* * * * *", "inputs": {"Input": 1}}
    sid = client.post("/api/v1/schedules", json=schedule, headers=alice).json()["id"]
    hid = client.post("/api/v1/hooks", json={"graph_id": gid}, headers=alice).json()["id"]
    return {
        "graph_id": gid,
        "run_id": rid,
        "credentials_id": cid,
        "file_id": fid,
        "schedule_id": sid,
        "hook_id": hid,
    }


def request_for(route: Route, known: dict[str, str]) -> st.SearchStrategy[dict[str, Any]]:
    path_values = {
        name: st.one_of(st.just(known[name]), st.just(known[name]), hostile_text)
        for name, where in route.parameters
        if where == "path"
    }
    queries = {name: query_values(name) for name, where in route.parameters if where == "query"}
    headers: dict[str, st.SearchStrategy[Any]] = {}
    if ("last-event-id", "header") in route.parameters:
        headers["last-event-id"] = query_values("after")
    if ("Idempotency-Key", "header") in route.parameters:
        headers["idempotency-key"] = hostile_text
    # Mostly bodies of the route's own shape, so requests get past the first check.
    body = st.none() | values if route.body is None else st.one_of(route.body, route.body, values)
    return st.fixed_dictionaries(
        {
            "path": st.fixed_dictionaries(path_values),
            "query": st.fixed_dictionaries({}, optional=queries),
            "headers": st.fixed_dictionaries({"content-type": content_types}, optional=headers),
            "body": body,
        }
    )


def send(client: TestClient, route: Route, parts: dict[str, Any], auth: dict[str, str]) -> Any:
    path = route.path
    for name, value in parts["path"].items():
        path = path.replace("{" + name + "}", quoted(value) or "x")
    query = "&".join(f"{quoted(k)}={quoted(v)}" for k, v in parts["query"].items())
    headers = {k: v.encode("utf-8", "surrogatepass") for k, v in parts["headers"].items() if v}
    content = (
        None if parts["body"] is None else to_json(parts["body"]).encode("utf-8", "surrogatepass")
    )
    url = f"{path}?{query}" if query else path
    return client.request(route.method, url, content=content, headers={**headers, **auth})


def fuzz(client: TestClient, route: Route, known: dict[str, str], auth: dict[str, str]) -> None:
    @given(parts=request_for(route, known))
    @settings(
        max_examples=EXAMPLES_PER_ROUTE,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(parts: dict[str, Any]) -> None:
        response = send(client, route, parts, auth)
        label = f"{route.method} {route.path}: {parts!r}"
        assert response.status_code < 500, (label, response.text)
        if route.path.startswith("/api/") and response.status_code >= 400:
            assert set(response.json()["error"]) == {"code", "message", "details"}, label

    check()


def test_no_route_answers_5xx_to_hostile_requests(
    app: FastAPI, client: TestClient, alice: dict[str, str], known: dict[str, str], store: Store
) -> None:
    all_routes = routes(app)
    assert len(all_routes) >= 15
    for route in all_routes:
        fuzz(client, route, known, alice)

    # Whatever got in reads back: lists, every run, every graph, every event.
    runs = client.get("/api/v1/executions?limit=200", headers=alice)
    assert runs.status_code == 200, runs.text
    for run in runs.json()["items"]:
        for suffix in ("", "/nodes"):
            answer = client.get(f"/api/v1/executions/{run['id']}{suffix}", headers=alice)
            assert answer.status_code == 200, answer.text
        for event in store.events(run["id"]):
            format_event(event).encode("utf-8")
    graphs = client.get("/api/v1/graphs?limit=200", headers=alice)
    assert graphs.status_code == 200, graphs.text
    for graph in graphs.json()["items"]:
        assert client.get(f"/api/v1/graphs/{graph['id']}", headers=alice).status_code == 200
