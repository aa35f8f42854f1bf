"""Schedules over the API, fired by a real Scheduler on a clock the test sets."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.data.graph import Graph
from backend.data.store import Store
from backend.schedules.manage import suggested_schedule
from backend.schedules.process import Scheduler
from backend.settings import Settings
from tests.api.conftest import assert_error, calculator_graph, drain
from tests.api.test_executions import create
from tests.autogpt_data import AGENTS_DIR, needs_autogpt_data

API = "/api/v1"
SUPPORT_AGENT = "agent_b8ceb480-a7a2-4c90-8513-181a49f7071f.json"


def add(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post(f"{API}/schedules", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def fire_at(settings: Settings, store: Store, when: float) -> int:
    return Scheduler(settings, clock=lambda: when, store=store).serve(until_idle=True)


def runs(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get(f"{API}/executions", headers=headers).json()["items"]
    return items


def test_a_schedule_shows_its_next_five_fire_times_in_its_timezone(
    client: TestClient, alice: dict[str, str]
) -> None:
    graph_id = create(client, alice, calculator_graph())
    schedule = add(
        client,
        alice,
        graph_id=graph_id,
        cron="30 9 * * MON-FRI",
        timezone="America/New_York",
        inputs={"Input": 8},
        name="weekday mornings",
    )
    times = [datetime.fromisoformat(t) for t in schedule["next_fire_times"]]
    assert len(times) == 5 and times == sorted(times)
    assert all((t.hour, t.minute) == (9, 30) and t.weekday() < 5 for t in times)
    assert all(t.utcoffset() in {-4 * 3600, -5 * 3600} or t.tzname() for t in times)
    assert schedule["next_fire_at"] == times[0].timestamp()
    assert schedule["description"]
    assert schedule["graph_version"] is None and schedule["misfire_policy"] == "once"
    assert schedule["enabled"] is True and schedule["last_run_id"] is None

    listed = client.get(f"{API}/schedules", headers=alice).json()["items"]
    assert [s["id"] for s in listed] == [schedule["id"]]
    assert client.get(f"{API}/schedules/{schedule['id']}", headers=alice).json() == schedule


def test_slots_fire_runs_with_the_schedules_inputs(
    client: TestClient, alice: dict[str, str], settings: Settings, store: Store
) -> None:
    graph_id = create(client, alice, calculator_graph())
    schedule = add(client, alice, graph_id=graph_id, cron="* * * * *", inputs={"Input": 8})
    first = schedule["next_fire_at"]
    assert fire_at(settings, store, first - 1) == 0
    assert fire_at(settings, store, first) == 1
    assert fire_at(settings, store, first + 30) == 0  # the same slot never fires again
    drain(settings)
    [run] = runs(client, alice)
    assert run["inputs"] == {"Input": 8} and run["status"] == "COMPLETED"
    after = client.get(f"{API}/schedules/{schedule['id']}", headers=alice).json()
    assert after["last_run_id"] == run["id"] and after["last_slot_at"] == first
    assert after["next_fire_at"] == first + 60


def test_pause_skips_slots_and_resume_fires_from_now_on(
    client: TestClient, alice: dict[str, str], settings: Settings, store: Store
) -> None:
    graph_id = create(client, alice, calculator_graph())
    schedule = add(client, alice, graph_id=graph_id, cron="* * * * *", inputs={"Input": 1})
    url = f"{API}/schedules/{schedule['id']}"
    paused = client.post(f"{url}/pause", headers=alice).json()
    assert paused["enabled"] is False and paused["next_fire_times"] == []
    assert fire_at(settings, store, schedule["next_fire_at"] + 600) == 0
    resumed = client.post(f"{url}/resume", headers=alice).json()
    assert resumed["enabled"] is True
    assert resumed["next_fire_at"] >= schedule["next_fire_at"]
    assert fire_at(settings, store, resumed["next_fire_at"]) == 1
    assert len(runs(client, alice)) == 1


def test_update_changes_the_cron_and_recomputes_the_next_fire_time(
    client: TestClient, alice: dict[str, str]
) -> None:
    graph_id = create(client, alice, calculator_graph())
    schedule = add(client, alice, graph_id=graph_id, cron="0 0 1 1 *", inputs={"Input": 1})
    changed = client.patch(
        f"{API}/schedules/{schedule['id']}",
        json={"cron": "*/5 * * * *", "misfire_policy": "each", "graph_version": 1},
        headers=alice,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["cron"] == "*/5 * * * *" and body["misfire_policy"] == "each"
    assert body["graph_version"] == 1
    assert body["next_fire_at"] < schedule["next_fire_at"]
    assert body["inputs"] == {"Input": 1}


def test_another_users_schedule_is_not_found(
    client: TestClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    graph_id = create(client, alice, calculator_graph())
    schedule = add(client, alice, graph_id=graph_id, cron="* * * * *", inputs={"Input": 1})
    url = f"{API}/schedules/{schedule['id']}"
    assert_error(client.get(url, headers=bob), 404, "not_found")
    assert_error(client.patch(url, json={"name": "x"}, headers=bob), 404, "not_found")
    assert_error(client.post(f"{url}/pause", headers=bob), 404, "not_found")
    assert_error(client.delete(url, headers=bob), 404, "not_found")
    assert client.get(f"{API}/schedules", headers=bob).json()["items"] == []
    # Nor may bob schedule alice's graph.
    response = client.post(
        f"{API}/schedules", json={"graph_id": graph_id, "cron": "* * * * *"}, headers=bob
    )
    assert_error(response, 404, "not_found")
    assert client.delete(url, headers=alice).status_code == 204
    assert_error(client.get(url, headers=alice), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"cron": "every day"}, "cron"),
        ({"cron": "* * * * *", "timezone": "Nowhere/Atlantis"}, "timezone"),
        ({"cron": "* * * * *", "inputs": {"Nope": 1}}, "Nope"),
        ({"cron": "* * * * *", "graph_version": 0}, "graph_version"),
        ({"cron": "* * * * *", "misfire_policy": "sometimes"}, "misfire_policy"),
    ],
)
def test_bad_schedules_are_refused_with_the_reason(
    client: TestClient, alice: dict[str, str], body: dict[str, Any], where: str
) -> None:
    graph_id = create(client, alice, calculator_graph())
    response = client.post(f"{API}/schedules", json={"graph_id": graph_id, **body}, headers=alice)
    error = assert_error(response, 422, "invalid_input")
    assert where in json.dumps(error)


def test_a_graph_deleted_under_its_schedule_pauses_the_schedule(
    client: TestClient, alice: dict[str, str], settings: Settings, store: Store
) -> None:
    graph_id = create(client, alice, calculator_graph())
    schedule = add(client, alice, graph_id=graph_id, cron="* * * * *", inputs={"Input": 1})
    client.delete(f"{API}/graphs/{graph_id}", headers=alice)
    assert fire_at(settings, store, schedule["next_fire_at"]) == 0
    after = client.get(f"{API}/schedules/{schedule['id']}", headers=alice).json()
    assert after["enabled"] is False and "not found" in after["last_error"]
    assert runs(client, alice) == []


def test_importing_a_recommended_schedule_offers_it_without_starting_it(
    client: TestClient, alice: dict[str, str], settings: Settings, store: Store
) -> None:
    export = {**calculator_graph(), "recommended_schedule_cron": "*/15 * * * *"}
    created = client.post(f"{API}/graphs", json=export, headers=alice).json()
    assert created["recommended_schedule_cron"] == "*/15 * * * *"
    offer = created["suggested_schedule"]
    assert offer["valid"] is True and offer["cron"] == "*/15 * * * *"
    assert len(offer["next_fire_times_utc"]) == 5
    assert f"agent-server schedule add {created['id']}" in offer["how"]
    assert client.get(f"{API}/schedules", headers=alice).json()["items"] == []
    # Stored with the graph, so it is still there when read back.
    again = client.get(f"{API}/graphs/{created['id']}", headers=alice).json()
    assert again["recommended_schedule_cron"] == "*/15 * * * *"
    plain = client.post(f"{API}/graphs", json=calculator_graph(), headers=alice).json()
    assert "suggested_schedule" not in plain and plain["recommended_schedule_cron"] is None
    broken = {**calculator_graph(), "recommended_schedule_cron": "every quarter hour"}
    offer = client.post(f"{API}/graphs", json=broken, headers=alice).json()["suggested_schedule"]
    assert offer["valid"] is False and "5 fields" in offer["problem"]


@needs_autogpt_data
def test_the_automated_support_agents_recommended_schedule_is_kept() -> None:
    export = json.loads((AGENTS_DIR / SUPPORT_AGENT).read_text())
    graph = Graph.from_json(export)
    assert graph.recommended_schedule_cron == "*/15 * * * *"
    offer = suggested_schedule(graph)
    assert offer is not None and offer["valid"] and "15" in offer["description"]
