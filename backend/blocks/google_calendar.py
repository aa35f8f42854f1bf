"""GoogleCalendarReadEventsBlock: AutoGPT's Calendar read block (same id, pins and
outputs), run with the access token of the node's Google OAuth2 credential."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field

from backend.providers.google_calendar import GoogleCalendar, calendar_event
from backend.providers.services import access_token

from .base import BlockContext, BlockOutput, BlockSchema, TestVector
from .gmail import NO_ACCOUNT, GoogleBlock, google_credentials_field
from .service_base import CREDENTIALS_FIELD, CredentialsRef


class GoogleCalendarReadEventsBlock(GoogleBlock):
    """The events of a calendar from ``start_time`` for ``time_range_days``: each on
    ``event``, then all on ``events``, and ``next_page_token`` when there are more."""

    id = "80bc3ed1-e9a4-449e-8163-a8fc86f74f6a"
    description = "Retrieves upcoming events from a Google Calendar with filtering options."
    categories = ("PRODUCTIVITY", "DATA")

    class Input(BlockSchema):
        credentials: CredentialsRef = google_credentials_field("calendar.readonly")
        calendar_id: str = Field(
            "primary", description="Calendar ID (use 'primary' for your main calendar)"
        )
        max_events: int = Field(
            10, ge=1, le=2500, description="Maximum number of events to retrieve"
        )
        start_time: datetime = Field(
            default_factory=lambda: datetime.now(tz=UTC),
            description="Retrieve events starting from this time",
        )
        time_range_days: int = Field(
            30, ge=0, le=3660, description="Number of days to look ahead for events"
        )
        search_term: str | None = Field(
            None, description="Optional search term to filter events by"
        )
        page_token: str | None = Field(
            None, description="Page token from previous request to get the next batch of events"
        )
        include_declined_events: bool = Field(False, description="Include events you've declined")

    class Output(BlockSchema):
        events: list[dict[str, Any]] = Field(
            description="List of calendar events in the requested time range"
        )
        event: dict[str, Any] = Field(
            description="One of the calendar events in the requested time range"
        )
        next_page_token: str = Field(
            description="Token for retrieving the next page of events if more exist"
        )

    test_vectors = (TestVector({"calendar_id": "primary"}, [("error", NO_ACCOUNT)]),)

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        token = access_token(self.provider, ctx.credentials.get(CREDENTIALS_FIELD))
        calendar = GoogleCalendar(self.clients(ctx), token, ctx.deadline)
        start = pins.start_time if pins.start_time.tzinfo else pins.start_time.replace(tzinfo=UTC)
        items, next_page = await calendar.events(
            pins.calendar_id,
            start,
            start + timedelta(days=pins.time_range_days),
            pins.max_events,
            pins.search_term,
            pins.include_declined_events,
            pins.page_token,
        )
        events = [calendar_event(item) for item in items if isinstance(item, dict)]
        if next_page:
            yield "next_page_token", next_page
        for event in events:
            yield "event", event
        yield "events", events
