"""A fake Google Calendar API v3: listing a calendar's events in a time window, paged by
``pageToken``, in the shapes of Google's public API reference."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from tests.service_server import Json, Recorded, ServiceServer

TOKEN = "ya29.test-calendar-access"


class CalendarServer(ServiceServer):
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.events: dict[str, list[dict[str, Any]]] = {}
        super().__init__(
            {("GET", r"/calendar/v3/calendars/(?P<calendar>[^/]+)/events"): self._list}
        )

    def _list(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if recorded.headers.get("authorization") != f"Bearer {self.token}":
            return Json({"error": {"code": 401, "message": "Invalid Credentials"}}, 401)
        calendar = urllib.parse.unquote(match["calendar"])
        if calendar not in self.events:
            return Json({"error": {"code": 404, "message": "Not Found"}}, 404)
        items = self.events[calendar]
        size = int(recorded.query.get("maxResults", "250"))
        offset = int(recorded.query.get("pageToken", "0"))
        page = items[offset : offset + size]
        answer: dict[str, Any] = {"kind": "calendar#events", "items": page}
        if offset + size < len(items):
            answer["nextPageToken"] = str(offset + size)
        return Json(answer)
