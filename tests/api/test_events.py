"""Server-Sent Events: ordered, ending after the final status, resumable exactly once."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
from fastapi.testclient import TestClient

from backend.blocks import get_block
from backend.client import parse_sse
from backend.data.api_keys import shown_prefix
from backend.data.store import Store
from backend.server.events import KEEPALIVE_SECONDS, RETRY_MILLISECONDS
from backend.settings import Settings
from tests.api.conftest import (
    LiveServer,
    calculator_graph,
    create_key,
    drain,
    http,
    wait_graph,
)

API = "/api/v1"


def read_events(
    client: httpx.Client | TestClient,
    run_id: str,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    stop_after: int | None = None,
) -> list[tuple[int, str, dict[str, Any]]]:
    """Read the stream; with ``stop_after``, hang up after that many events."""
    events = []
    url = f"{API}/executions/{run_id}/events"
    with client.stream("GET", url, headers=headers, params=params) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in parse_sse(response.iter_lines()):
            events.append((event.id, event.type, event.data))
            if stop_after is not None and len(events) >= stop_after:
                break
    return events


def without_envelope(data: dict[str, Any]) -> dict[str, Any]:
    """An event's own fields, without those every event carries."""
    return {k: v for k, v in data.items() if k not in ("run_id", "timestamp", "block_name")}


def test_stream_of_a_finished_run_replays_everything_and_ends(
    client: TestClient, alice: dict[str, str], settings: Settings, store: Store
) -> None:
    gid = client.post(f"{API}/graphs", json=calculator_graph(), headers=alice).json()["id"]
    rid = client.post(
        f"{API}/graphs/{gid}/execute", json={"inputs": {"Input": 8}}, headers=alice
    ).json()["id"]
    drain(settings)
    events = read_events(client, rid, headers=alice)
    assert [e[0] for e in events] == [e.id for e in store.events(rid)]
    assert events[0][1] == "run_status"
    assert without_envelope(events[0][2]) == {"status": "QUEUED"}
    last = events[-1]
    assert last[1] == "run_status"
    assert last[2]["status"] == "COMPLETED" and last[2]["outputs"] == {"Output": [42.0]}
    node_events = [e[2] for e in events if e[1] == "node_status"]
    completed = [e for e in node_events if e["status"] == "COMPLETED"]
    assert len(completed) == 3
    assert {"node_exec_id", "node_id", "block_id", "attempt", "outputs"} <= set(completed[0])

    # Resuming from the middle (header or query) gives exactly the rest.
    middle = events[len(events) // 2][0]
    rest = read_events(client, rid, headers={**alice, "Last-Event-ID": str(middle)})
    assert rest == [e for e in events if e[0] > middle]
    assert read_events(client, rid, headers=alice, params={"after": middle}) == rest
    # Resuming after the final event ends at once.
    assert read_events(client, rid, headers={**alice, "Last-Event-ID": str(last[0])}) == []


def test_bad_last_event_id_is_422(client: TestClient, alice: dict[str, str]) -> None:
    gid = client.post(f"{API}/graphs", json=calculator_graph(), headers=alice).json()["id"]
    rid = client.post(f"{API}/graphs/{gid}/execute", json={}, headers=alice).json()["id"]
    url = f"{API}/executions/{rid}/events"
    response = client.get(url, headers={**alice, "Last-Event-ID": "abc"})
    assert response.status_code == 422
    assert client.get(f"{url}?after=-1", headers=alice).status_code == 422


def test_client_that_disconnects_mid_run_and_resumes_sees_every_event_once(
    live: LiveServer, alice: dict[str, str], settings: Settings, store: Store
) -> None:
    with http(live, alice) as client:
        graph = client.post(f"{API}/graphs", json=wait_graph(0.05, steps=5)).json()
        rid = client.post(
            f"{API}/graphs/{graph['id']}/execute", json={"inputs": {"x": "v"}}
        ).json()["id"]
        executor = threading.Thread(target=drain, args=(settings,))
        executor.start()
        try:
            first = read_events(client, rid, stop_after=4)
            resumed = read_events(client, rid, headers={"Last-Event-ID": str(first[-1][0])})
        finally:
            executor.join(60)
    seen = first + resumed
    ids = [e[0] for e in seen]
    assert ids == sorted(set(ids)), "events repeated or out of order"
    assert ids == [e.id for e in store.events(rid)], "events missed"
    assert seen[-1][1] == "run_status"
    assert without_envelope(seen[-1][2]) == {
        "status": "COMPLETED",
        "outputs": {"out": ["v"]},
        "error": None,
    }
    assert not any(e[1] == "run_status" and e[2]["status"] == "COMPLETED" for e in first)


def test_stream_ends_when_the_server_stops(live: LiveServer, alice: dict[str, str]) -> None:
    with http(live, alice) as client:
        graph = client.post(f"{API}/graphs", json=wait_graph(30)).json()
        execute = f"{API}/graphs/{graph['id']}/execute"
        rid = client.post(execute, json={"inputs": {"x": 1}}).json()["id"]
        url = f"{API}/executions/{rid}/events"
        with client.stream("GET", url) as response:
            lines = response.iter_lines()
            assert next(lines) == f"retry: {RETRY_MILLISECONDS}"
            assert next(lines) == ""
            assert next(lines).startswith("id: ")
            live.app.state.stopping.set()
            rest = list(lines)
    # The queued event was delivered; then the stream closed cleanly, no final event.
    assert all("COMPLETED" not in line for line in rest)
    assert json.loads(next(x for x in rest if x.startswith("data: "))[6:])["status"] == "QUEUED"


def test_stream_ends_soon_after_its_key_is_revoked(
    live: LiveServer, store: Store, settings: Settings
) -> None:
    kept, revoked = create_key(store, "alice"), create_key(store, "alice")
    # The read timeout is below the keepalive interval: a stream that stays open after
    # the revocation fails the test instead of hanging it.
    with httpx.Client(base_url=live.url, timeout=KEEPALIVE_SECONDS - 5) as client:
        as_revoked = {"Authorization": f"Bearer {revoked}"}
        graph = client.post(f"{API}/graphs", json=wait_graph(30), headers=as_revoked).json()
        rid = client.post(
            f"{API}/graphs/{graph['id']}/execute", json={"inputs": {"x": 1}}, headers=as_revoked
        ).json()["id"]
        url = f"{API}/executions/{rid}/events"
        with client.stream("GET", url, headers=as_revoked) as response:
            lines = response.iter_lines()
            assert next(lines) == f"retry: {RETRY_MILLISECONDS}"
            assert next(lines) == ""
            assert next(lines).startswith("id: ")
            store.revoke_api_key(shown_prefix(revoked), time.time())
            rest = list(lines)
        assert ": API key revoked" in rest
        assert client.get(url, headers=as_revoked).status_code == 401

        # A key that stays valid keeps its stream past many checks, to the final event.
        as_kept = {"Authorization": f"Bearer {kept}"}
        graph = client.post(f"{API}/graphs", json=wait_graph(0.5, steps=5), headers=as_kept)
        rid = client.post(
            f"{API}/graphs/{graph.json()['id']}/execute", json={"inputs": {"x": 1}}, headers=as_kept
        ).json()["id"]
        executor = threading.Thread(target=drain, args=(settings,))
        executor.start()
        try:
            events = read_events(client, rid, headers=as_kept)
        finally:
            executor.join(60)
    assert events[-1][1] == "run_status"
    assert without_envelope(events[-1][2]) == {
        "status": "COMPLETED",
        "outputs": {"out": [1]},
        "error": None,
    }


def test_no_event_or_answer_shows_which_executor_ran_the_run(
    client: TestClient, alice: dict[str, str], settings: Settings, store: Store
) -> None:
    gid = client.post(f"{API}/graphs", json=calculator_graph(), headers=alice).json()["id"]
    url = f"{API}/graphs/{gid}/execute"
    rid = client.post(url, json={"inputs": {"Input": 8}}, headers=alice).json()["id"]
    drain(settings)
    [executor] = store.list_executors()
    answers = [
        client.get(f"{API}/executions/{rid}", headers=alice).text,
        client.get(f"{API}/executions/{rid}/nodes", headers=alice).text,
        client.get(f"{API}/executions", headers=alice).text,
        client.get(f"{API}/executions/{rid}/events", headers=alice).text,
    ]
    assert "COMPLETED" in answers[0]
    for text in answers:
        assert executor.id not in text
        assert f"{executor.host}-{executor.pid}" not in text
    for event in store.events(rid):
        assert "executor" not in event.data and "owner" not in event.data


def test_every_event_says_its_run_and_time_and_node_events_their_block(
    client: TestClient, alice: dict[str, str], settings: Settings, store: Store
) -> None:
    gid = client.post(f"{API}/graphs", json=calculator_graph(), headers=alice).json()["id"]
    before = time.time()
    rid = client.post(
        f"{API}/graphs/{gid}/execute", json={"inputs": {"Input": 8}}, headers=alice
    ).json()["id"]
    drain(settings)
    raw = client.get(f"{API}/executions/{rid}/events", headers=alice).text
    # The reconnection delay comes first, before any event.
    assert raw.startswith(f"retry: {RETRY_MILLISECONDS}\n\n")

    events = read_events(client, rid, headers=alice)
    stored = {event.id: event for event in store.events(rid)}
    times = [data["timestamp"] for _, _, data in events]
    assert times == sorted(times) and before - 1 <= times[0] <= times[-1] <= time.time()
    names = set()
    for event_id, kind, data in events:
        assert data["run_id"] == rid
        assert data["timestamp"] == stored[event_id].created_at
        if kind == "node_status":
            block = get_block(data["block_id"])
            assert block is not None and data["block_name"] == block.name
            names.add(data["block_name"])
        else:
            assert "block_name" not in data
    assert {"AgentInputBlock", "AgentOutputBlock"} <= names and len(names) == 3
