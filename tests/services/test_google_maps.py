"""GoogleMapsSearchBlock against a fake Places API (New) over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from backend.blocks.google_maps import GoogleMapsSearchBlock
from backend.providers.google_maps import FIELD_MASK
from tests.google_maps_server import KEY, GoogleMapsServer, google_error
from tests.service_server import Json, Raw
from tests.services.conftest import Waits, context, run_block, service_clients

BLOCK = GoogleMapsSearchBlock()
PATH = "/v1/places:searchText"


@pytest.fixture
def maps() -> Iterator[GoogleMapsServer]:
    with GoogleMapsServer() as server:
        yield server


def run(server: GoogleMapsServer, waits: Waits, data: dict[str, Any], **kw: Any):
    clients = service_clients(waits, google_maps_base_url=server.url)
    return run_block(BLOCK, data, context(clients, "google_maps", kw.pop("key", KEY), None, **kw))


def test_each_place_is_yielded_in_autogpts_shape(maps: GoogleMapsServer, waits: Waits) -> None:
    outputs = run(maps, waits, {"query": "coffee roasters in Edinburgh", "max_results": 2})

    assert [pin for pin, _ in outputs] == ["place", "place"]
    assert outputs[0][1] == {
        "name": "Roaster 0",
        "address": "0 High St, Edinburgh, UK",
        "phone": "0131 000 0000",
        "rating": 4.5,
        "reviews": 100,
        "website": "https://roaster0.example",
        "place_id": "ChIJplace0",
        "latitude": 55.95,
        "longitude": -3.19,
        "google_maps_url": "https://maps.google.com/?cid=0",
    }
    [sent] = maps.requests
    assert (sent.method, sent.path) == ("POST", PATH)
    assert sent.json == {"textQuery": "coffee roasters in Edinburgh", "pageSize": 2}
    assert sent.headers["x-goog-api-key"] == KEY
    assert sent.headers["x-goog-fieldmask"] == FIELD_MASK


def test_pages_are_followed_up_to_max_results(waits: Waits) -> None:
    with GoogleMapsServer(total=50) as maps:
        outputs = run(maps, waits, {"query": "cafes", "max_results": 45})
    assert len(outputs) == 45
    assert [r.json for r in maps.requests] == [
        {"textQuery": "cafes", "pageSize": 20},
        {"textQuery": "cafes", "pageSize": 20, "pageToken": "20"},
        {"textQuery": "cafes", "pageSize": 5, "pageToken": "40"},
    ]


def test_no_places_yields_nothing(waits: Waits) -> None:
    with GoogleMapsServer(total=0) as maps:
        assert run(maps, waits, {"query": "nothing here"}) == []


def test_a_place_without_a_location_has_no_coordinates(
    maps: GoogleMapsServer, waits: Waits
) -> None:
    maps.script(PATH, Json({"places": [{"displayName": {"text": "Kiosk"}}]}))
    [(pin, found)] = run(maps, waits, {"query": "kiosk"})
    assert pin == "place"
    assert found["name"] == "Kiosk"
    assert (found["latitude"], found["longitude"], found["rating"]) == (None, None, 0.0)


def test_an_invalid_key_is_a_clear_error(maps: GoogleMapsServer, waits: Waits) -> None:
    outputs = run(maps, waits, {"query": "x"}, key="AIza-wrong-0000000000")
    assert outputs == [
        (
            "error",
            "google_maps answered HTTP 400 (bad request): API key not valid. Please pass a "
            "valid API key.",
        )
    ]


def test_a_disabled_api_is_forbidden(maps: GoogleMapsServer, waits: Waits) -> None:
    denied = google_error(
        403,
        "PERMISSION_DENIED",
        "Places API (New) has not been used in project 1 before.",
        "SERVICE_DISABLED",
    )
    maps.script(PATH, denied)
    outputs = run(maps, waits, {"query": "x"})
    assert outputs == [
        (
            "error",
            "google_maps answered HTTP 403 (forbidden): Places API (New) has not been used in "
            "project 1 before.",
        )
    ]


def test_quota_exhaustion_is_retried_then_reported(maps: GoogleMapsServer, waits: Waits) -> None:
    quota = google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.")
    maps.script(PATH, quota, quota, quota)
    outputs = run(maps, waits, {"query": "x"})
    assert outputs == [
        (
            "error",
            "google_maps answered HTTP 429 (rate limited; gave up after 3 attempts): "
            "Quota exceeded.",
        )
    ]
    assert waits == [0.375, 0.75]


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (Raw(b"<html>502</html>", content_type="text/html"), "not JSON"),
        (Json([1, 2]), "the answer is not an object"),
        (Json({"places": {"id": "x"}}), "places is not a list of objects"),
        (Json({"places": [{"rating": "great"}]}), "a place has fields of the wrong type"),
    ],
)
def test_a_malformed_answer_is_named(
    maps: GoogleMapsServer, waits: Waits, reply: Any, problem: str
) -> None:
    maps.script(PATH, reply)
    assert run(maps, waits, {"query": "x"}) == [
        ("error", f"google_maps sent a malformed answer: {problem}")
    ]


def test_a_key_echoed_in_an_error_is_masked(maps: GoogleMapsServer, waits: Waits) -> None:
    maps.script(PATH, google_error(403, "PERMISSION_DENIED", f"key {KEY} is blocked"))
    outputs = run(maps, waits, {"query": "x"})
    assert outputs == [("error", "google_maps answered HTTP 403 (forbidden): key *** is blocked")]


def test_without_a_credential_the_node_says_what_to_do(waits: Waits) -> None:
    ctx = context(service_clients(waits), "google_maps", KEY, None)
    ctx.credentials = {}
    assert run_block(BLOCK, {"query": "x"}, ctx) == list(BLOCK.test_vectors[0].output)
    assert BLOCK.required_credentials({}) == {"credentials": "google_maps"}
