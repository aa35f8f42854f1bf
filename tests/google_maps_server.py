"""A fake Google Places API (New): ``POST /v1/places:searchText`` as Google's reference
describes it, paging ``places`` with ``nextPageToken``, errors in Google's shape."""

from __future__ import annotations

import re
from typing import Any

from tests.service_server import Json, Recorded, ServiceServer

KEY = "AIzaTestKey-3c8f1d2e9b7a"


def google_error(status: int, code: str, message: str, reason: str = "") -> Json:
    error: dict[str, Any] = {"code": status, "message": message, "status": code}
    if reason:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
    return Json({"error": error}, status)


def place(index: int) -> dict[str, Any]:
    return {
        "id": f"ChIJplace{index}",
        "displayName": {"text": f"Roaster {index}", "languageCode": "en"},
        "formattedAddress": f"{index} High St, Edinburgh, UK",
        "location": {"latitude": 55.95 + index / 100, "longitude": -3.19},
        "googleMapsUri": f"https://maps.google.com/?cid={index}",
        "nationalPhoneNumber": f"0131 000 00{index:02d}",
        "websiteUri": f"https://roaster{index}.example",
        "rating": 4.5,
        "userRatingCount": 100 + index,
    }


class GoogleMapsServer(ServiceServer):
    """``total`` places match any query; pages hold what ``pageSize`` asks (at most 20)."""

    def __init__(self, key: str = KEY, total: int = 3) -> None:
        self.key = key
        self.total = total
        super().__init__({("POST", "/v1/places:searchText"): self._search})

    def _search(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if recorded.headers.get("x-goog-api-key") != self.key:
            return google_error(
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                "API_KEY_INVALID",
            )
        body = recorded.json
        if "places.displayName" not in recorded.headers.get("x-goog-fieldmask", ""):
            return google_error(400, "INVALID_ARGUMENT", "FieldMask is a required parameter")
        start = int(body.get("pageToken", "0") or 0)
        end = min(self.total, start + min(20, int(body.get("pageSize", 20))))
        answer: dict[str, Any] = {"places": [place(i) for i in range(start, end)]}
        if end < self.total:
            answer["nextPageToken"] = str(end)
        return Json(answer)
