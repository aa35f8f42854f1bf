"""The Google Calendar read block against a fake Calendar API over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from backend.blocks.base import BlockContext
from backend.blocks.google_calendar import GoogleCalendarReadEventsBlock
from backend.providers.credentials import Credentials, CredentialsType
from tests.calendar_server import TOKEN, CalendarServer
from tests.service_server import Json
from tests.services.conftest import Waits, run_block, service_clients

READ = GoogleCalendarReadEventsBlock()
MEETING = {
    "id": "ev1",
    "summary": "Team Meeting",
    "start": {"dateTime": "2026-12-03T10:00:00+01:00", "timeZone": "Europe/Paris"},
    "end": {"dateTime": "2026-12-03T11:00:00+01:00"},
    "location": "Room A",
    "description": "Weekly sync",
    "organizer": {"email": "boss@example.com"},
    "attendees": [{"email": "a@example.com"}, {"displayName": "no address"}],
    "conferenceData": {
        "entryPoints": [
            {"entryPointType": "phone", "uri": "tel:+1"},
            {"entryPointType": "video", "uri": "https://meet.google.com/abc-defg-hij"},
        ]
    },
    "htmlLink": "https://www.google.com/calendar/event?eid=ev1",
    "recurringEventId": "ev0",
}
HOLIDAY = {"id": "ev2", "start": {"date": "2026-12-24"}, "end": {"date": "2026-12-25"}}


@pytest.fixture
def calendar() -> Iterator[CalendarServer]:
    with CalendarServer() as server:
        server.events["primary"] = [MEETING, HOLIDAY]
        yield server


def run(server: CalendarServer, waits: Waits, data: dict[str, Any], token: str = TOKEN) -> Any:
    clients = service_clients(waits, google_calendar_base_url=server.url)
    credential = Credentials(
        "google", CredentialsType.OAUTH2, id="cred-g", access_token=SecretStr(token)
    )
    ctx = BlockContext(
        credentials={"credentials": credential},
        services=clients,
        deadline=time.monotonic() + 30,
        allow_private_network=True,
    )
    return run_block(READ, data, ctx)


def test_events_come_one_by_one_then_all(calendar: CalendarServer, waits: Waits) -> None:
    data = {"start_time": "2026-12-02T23:00:00.000Z", "time_range_days": 1, "max_events": 10}
    outputs = run(calendar, waits, data)

    meeting = {
        "id": "ev1",
        "title": "Team Meeting",
        "start_time": "2026-12-03 10:00",
        "end_time": "2026-12-03 11:00",
        "is_all_day": False,
        "location": "Room A",
        "description": "Weekly sync",
        "organizer": "boss@example.com",
        "attendees": ["a@example.com"],
        "has_video_call": True,
        "video_link": "https://meet.google.com/abc-defg-hij",
        "calendar_link": "https://www.google.com/calendar/event?eid=ev1",
        "is_recurring": True,
    }
    holiday = {
        "id": "ev2",
        "title": "Untitled Event",
        "start_time": "2026-12-24",
        "end_time": "2026-12-25",
        "is_all_day": True,
        "location": None,
        "description": None,
        "organizer": None,
        "attendees": [],
        "has_video_call": False,
        "video_link": None,
        "calendar_link": "",
        "is_recurring": False,
    }
    assert outputs == [("event", meeting), ("event", holiday), ("events", [meeting, holiday])]
    [asked] = calendar.requests
    assert asked.path == "/calendar/v3/calendars/primary/events"
    assert asked.headers["authorization"] == f"Bearer {TOKEN}"
    assert asked.query == {
        "timeMin": "2026-12-02T23:00:00+00:00",
        "timeMax": "2026-12-03T23:00:00+00:00",
        "maxResults": "10",
        "singleEvents": "true",
        "orderBy": "startTime",
        "showDeleted": "false",
        "showHiddenInvitations": "false",
    }


def test_more_events_give_a_next_page_token(calendar: CalendarServer, waits: Waits) -> None:
    calendar.events["team@group.calendar.google.com"] = [MEETING, HOLIDAY]
    data = {"calendar_id": "team@group.calendar.google.com", "max_events": 1}
    outputs = run(calendar, waits, {**data, "search_term": "sync"})
    assert outputs[0] == ("next_page_token", "1")
    assert (
        calendar.requests[0].path
        == "/calendar/v3/calendars/team%40group.calendar.google.com/events"
    )
    assert calendar.requests[0].query["q"] == "sync"
    second = run(calendar, waits, {**data, "page_token": "1"})
    assert [pin for pin, _ in second] == ["event", "events"]
    assert second[0][1]["id"] == "ev2"


def test_a_refused_token_or_unknown_calendar_is_an_error(
    calendar: CalendarServer, waits: Waits
) -> None:
    [(pin, error)] = run(calendar, waits, {}, token="ya29.revoked")
    assert pin == "error" and "401" in error and "ya29.revoked" not in error
    [(pin, error)] = run(calendar, waits, {"calendar_id": "nope"})
    assert pin == "error" and "404" in error


def test_a_malformed_answer_is_said(calendar: CalendarServer, waits: Waits) -> None:
    calendar.script(r"/calendar/v3/calendars/primary/events", Json({"items": "none"}))
    [(pin, error)] = run(calendar, waits, {})
    assert pin == "error" and "malformed" in error
