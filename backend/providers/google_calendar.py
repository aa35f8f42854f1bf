"""Google Calendar's API v3 over plain HTTP, with an OAuth2 credential's bearer token.

Events are ``GET /calendar/v3/calendars/{calendarId}/events`` between ``timeMin`` and
``timeMax`` (RFC 3339 with an offset), recurring events expanded into their instances
(``singleEvents``) and ordered by start. The base URL is a setting
(BACKEND_GOOGLE_CALENDAR_BASE_URL).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from .http import time_budget
from .services import ServiceCall, ServiceClients

PROVIDER = "google"


class GoogleCalendar:
    def __init__(self, clients: ServiceClients, token: str, deadline: float | None) -> None:
        self.deadline = deadline
        self.call = ServiceCall(
            PROVIDER,
            clients.settings.google_calendar_base_url,
            clients.pool.client(),
            token,
            {"Authorization": f"Bearer {token}"},
        )

    async def events(
        self,
        calendar_id: str,
        time_min: datetime,
        time_max: datetime,
        max_results: int,
        search: str | None,
        show_hidden: bool,
        page_token: str | None,
    ) -> tuple[list[Any], str | None]:
        """The raw event resources of one page, and the next page's token (if any)."""
        params = {
            "timeMin": time_min.isoformat(),
            "timeMax": time_max.isoformat(),
            "maxResults": str(max_results),
            "singleEvents": "true",
            "orderBy": "startTime",
            "showDeleted": "false",
            "showHiddenInvitations": "true" if show_hidden else "false",
        }
        if page_token:
            params["pageToken"] = page_token
        if search:
            params["q"] = search
        path = f"/calendar/v3/calendars/{quote(calendar_id, safe='')}/events"
        with time_budget(self.deadline):
            answer = await self.call.request("GET", path, params=params)
        if not isinstance(answer, Mapping) or not isinstance(answer.get("items", []), list):
            raise self.call.malformed("the event list is not an object with items")
        token = answer.get("nextPageToken")
        return list(answer.get("items", [])), token if isinstance(token, str) and token else None


def _when(moment: Mapping[str, Any], all_day: bool) -> str:
    """An event time as AutoGPT shows it: the date of an all-day event, else
    ``YYYY-MM-DD HH:MM`` in the event's own offset."""
    if all_day:
        return str(moment.get("date", ""))
    text = str(moment.get("dateTime", ""))
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return text


def _video_link(event: Mapping[str, Any]) -> str | None:
    conference = event.get("conferenceData")
    if not isinstance(conference, Mapping):
        return None
    if conference.get("conferenceUrl"):
        return str(conference["conferenceUrl"])
    for entry in conference.get("entryPoints") or []:
        if isinstance(entry, Mapping) and entry.get("entryPointType") == "video":
            return str(entry.get("uri")) if entry.get("uri") else None
    return None


def calendar_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """One event resource in the shape of AutoGPT's ``CalendarEvent``."""
    start = event.get("start") or {}
    end = event.get("end") or {}
    all_day = "date" in start
    organizer = event.get("organizer") or {}
    video = _video_link(event)
    return {
        "id": str(event.get("id", "")),
        "title": str(event.get("summary", "Untitled Event")),
        "start_time": _when(start, all_day),
        "end_time": _when(end, all_day),
        "is_all_day": all_day,
        "location": event.get("location"),
        "description": event.get("description"),
        "organizer": organizer.get("email") if isinstance(organizer, Mapping) else None,
        "attendees": [
            str(a["email"])
            for a in event.get("attendees") or []
            if isinstance(a, Mapping) and a.get("email")
        ],
        "has_video_call": video is not None,
        "video_link": video,
        "calendar_link": str(event.get("htmlLink", "")),
        "is_recurring": bool(event.get("recurrence") or event.get("recurringEventId")),
    }
