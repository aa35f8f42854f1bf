"""Google's Places API (New) text search over plain HTTP, as AutoGPT's block now calls it.

``POST /v1/places:searchText`` with ``{"textQuery", "pageSize"}`` (and ``pageToken`` for
the next page) answers ``places`` and, when there are more, ``nextPageToken``. The key
goes in ``X-Goog-Api-Key``; ``X-Goog-FieldMask`` names the fields wanted, which also
decides the price of each page. Pages of at most 20 are fetched until ``max_results``
places are found or there are no more (Google serves at most 60).

The ``googlemaps`` client library speaks only the legacy Places API and takes no base
URL, so this module calls the REST API itself.
"""

from __future__ import annotations

from typing import Any

from .http import time_budget
from .services import ServiceCall, ServiceClients

PROVIDER = "google_maps"
SEARCH_PATH = "/v1/places:searchText"
PAGE_SIZE = 20
FIELD_MASK = ",".join(
    [
        "places.id",
        "places.displayName",
        "places.formattedAddress",
        "places.location",
        "places.googleMapsUri",
        "places.nationalPhoneNumber",
        "places.websiteUri",
        "places.rating",
        "places.userRatingCount",
        "nextPageToken",
    ]
)


def to_place(found: dict[str, Any]) -> dict[str, Any]:
    """One place of the answer in the block's ``place`` shape (AutoGPT's ``Place``)."""
    location = found.get("location") or {}
    name = found.get("displayName") or {}
    return {
        "name": name.get("text", "") if isinstance(name, dict) else str(name),
        "address": found.get("formattedAddress", ""),
        "phone": found.get("nationalPhoneNumber", ""),
        "rating": float(found.get("rating") or 0),
        "reviews": int(found.get("userRatingCount") or 0),
        "website": found.get("websiteUri", ""),
        "place_id": found.get("id", ""),
        "latitude": float(location.get("latitude", 0.0)) if location else None,
        "longitude": float(location.get("longitude", 0.0)) if location else None,
        "google_maps_url": found.get("googleMapsUri", ""),
    }


class GoogleMaps:
    def __init__(self, clients: ServiceClients, key: str, deadline: float | None) -> None:
        self.deadline = deadline
        self.call = ServiceCall(
            PROVIDER,
            clients.settings.google_maps_base_url,
            clients.pool.client(),
            key,
            {"X-Goog-Api-Key": key, "X-Goog-FieldMask": FIELD_MASK},
        )

    async def search(self, query: str, max_results: int) -> list[dict[str, Any]]:
        """Up to ``max_results`` places matching ``query``."""
        places: list[dict[str, Any]] = []
        token = ""
        with time_budget(self.deadline):
            while len(places) < max_results:
                body: dict[str, Any] = {
                    "textQuery": query,
                    "pageSize": min(PAGE_SIZE, max_results - len(places)),
                }
                if token:
                    body["pageToken"] = token
                answer = await self.call.request("POST", SEARCH_PATH, json=body, read_only=True)
                if not isinstance(answer, dict):
                    raise self.call.malformed("the answer is not an object")
                found = answer.get("places") or []
                if not isinstance(found, list) or not all(isinstance(p, dict) for p in found):
                    raise self.call.malformed("places is not a list of objects")
                try:
                    places.extend(to_place(place) for place in found)
                except (TypeError, ValueError, AttributeError):
                    raise self.call.malformed("a place has fields of the wrong type") from None
                token = answer.get("nextPageToken") or ""
                if not token or not found:
                    break
        return places[:max_results]
