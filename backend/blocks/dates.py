"""Blocks that tell the current time, date, or both.

Each takes AutoGPT's ``format_type``: ``{"discriminator": "strftime", "format": ...,
"timezone": ...}`` or ``{"discriminator": "iso8601", "timezone": ...}``; the time zone
defaults to UTC. Graphs saved before AutoGPT introduced ``format_type`` set a plain
``format`` (a strftime pattern); it still works and is read as a strftime format_type in
UTC. ``use_user_timezone`` is accepted but changes nothing: this server keeps no user
profiles, so the format's own ``timezone`` applies.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .base import Block, BlockContext, BlockOutput, BlockSchema, Isolation, TestVector


class _ZonedFormat(BaseModel):
    model_config = ConfigDict(extra="ignore")

    timezone: str = Field(default="UTC", description="IANA time zone, e.g. Europe/Paris.")
    use_user_timezone: bool = Field(
        default=False, description="Accepted for AutoGPT graphs; this server has no profiles."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
        return name

    def now(self) -> datetime:
        return datetime.now(ZoneInfo(self.timezone))


class _ISO8601(_ZonedFormat):
    discriminator: Literal["iso8601"]


class _ISO8601Precise(_ISO8601):
    include_microseconds: bool = Field(default=False, description="Keep microseconds.")


class TimeStrftimeFormat(_ZonedFormat):
    discriminator: Literal["strftime"]
    format: str = "%H:%M:%S"


class DateStrftimeFormat(_ZonedFormat):
    discriminator: Literal["strftime"]
    format: str = "%Y-%m-%d"


class DateTimeStrftimeFormat(_ZonedFormat):
    discriminator: Literal["strftime"]
    format: str = "%Y-%m-%d %H:%M:%S"


TimeFormat = TimeStrftimeFormat | _ISO8601Precise
DateFormat = DateStrftimeFormat | _ISO8601
DateTimeFormat = DateTimeStrftimeFormat | _ISO8601Precise


class _ClockInput(BlockSchema):
    trigger: Any = Field(description="Any value; its arrival makes the block run.")
    format: str | None = Field(
        default=None, description="Older graphs' strftime pattern; used without format_type."
    )


class _ClockBlock(Block):
    """What the three clock blocks share: pick the format (``format_type``, or the legacy
    ``format`` alone), take the moment, render it, yield it on ``pin``."""

    pin: ClassVar[str]
    strftime_format: ClassVar[type[_ZonedFormat]]
    isolation = Isolation.WORKER  # formats with an author-written pattern

    def moment(self, input_data: Any, spec: _ZonedFormat) -> datetime:
        return spec.now()

    def iso(self, moment: datetime, spec: _ZonedFormat) -> str:
        precise = getattr(spec, "include_microseconds", False)
        return moment.isoformat(timespec="auto" if precise else "seconds")

    async def run(self, input_data: Any, ctx: BlockContext) -> BlockOutput:
        spec: Any = input_data.format_type
        if "format_type" not in input_data.model_fields_set and input_data.format is not None:
            spec = self.strftime_format(discriminator="strftime", format=input_data.format)
        try:
            moment = self.moment(input_data, spec)
        except ValueError as exc:
            yield "error", str(exc)
            return
        if isinstance(spec, _ISO8601):
            yield self.pin, self.iso(moment, spec)
            return
        yield self.pin, moment.strftime(spec.format)


class GetCurrentTimeBlock(_ClockBlock):
    id = "a892b8d9-3e4e-4e9c-9c1e-75f8efcf1bfa"
    description = "Outputs the current time (strftime pattern or ISO 8601, in a time zone)."
    categories = ("TEXT",)
    pin = "time"
    strftime_format = TimeStrftimeFormat

    class Input(_ClockInput):
        format_type: TimeFormat = Field(
            default_factory=lambda: TimeStrftimeFormat(discriminator="strftime"),
            discriminator="discriminator",
            description="strftime with a pattern, or ISO 8601 (THH:MM:SS+HH:MM).",
        )

    class Output(BlockSchema):
        time: str = Field(description="The current time, formatted.")

    # The clock is not deterministic, so the vectors use patterns without fields.
    test_vectors = (
        TestVector({"trigger": "Hello", "format": "no fields"}, [("time", "no fields")]),
        TestVector({"trigger": 1, "format": "100%%"}, [("time", "100%")]),
        TestVector(
            {"trigger": 1, "format_type": {"discriminator": "strftime", "format": "[%%]"}},
            [("time", "[%]")],
        ),
    )

    def iso(self, moment: datetime, spec: _ZonedFormat) -> str:
        return "T" + super().iso(moment, spec).split("T", 1)[1]  # the time, with its offset


class GetCurrentDateBlock(_ClockBlock):
    """Outputs the current date moved back by ``offset`` days: like AutoGPT, a positive
    offset gives a past date (7: a week ago) and a negative one a future date."""

    id = "b29c1b50-5d0e-4d9f-8f9d-1b0e6fcbf0b1"
    description = "Outputs the current date, optionally offset by a number of days."
    categories = ("TEXT",)
    pin = "date"
    strftime_format = DateStrftimeFormat

    class Input(_ClockInput):
        offset: int | str = Field(
            default=0, description="Days to go back (text is read as a number; else 0)."
        )
        format_type: DateFormat = Field(
            default_factory=lambda: DateStrftimeFormat(discriminator="strftime"),
            discriminator="discriminator",
            description="strftime with a pattern, or ISO 8601 (YYYY-MM-DD).",
        )

    class Output(BlockSchema):
        date: str = Field(description="The date, formatted.")

    test_vectors = (
        TestVector({"trigger": "go", "format": "fixed"}, [("date", "fixed")]),
        TestVector(
            {
                "trigger": "go",
                "offset": "many",
                "format_type": {"discriminator": "strftime", "format": "%%"},
            },
            [("date", "%")],
        ),
        TestVector(
            {"trigger": "go", "offset": 10**12},
            [("error", "offset 1000000000000 days is out of range")],
        ),
    )

    def moment(self, input_data: Any, spec: _ZonedFormat) -> datetime:
        try:
            offset = int(input_data.offset)
        except ValueError:
            offset = 0
        try:
            return spec.now() - timedelta(days=offset)
        except OverflowError:
            raise ValueError(f"offset {offset} days is out of range") from None

    def iso(self, moment: datetime, spec: _ZonedFormat) -> str:
        return moment.date().isoformat()


class GetCurrentDateAndTimeBlock(_ClockBlock):
    id = "716a67b3-6760-42e7-86dc-18645c6e00fc"
    description = "Outputs the current date and time (strftime pattern or ISO 8601)."
    categories = ("TEXT",)
    pin = "date_time"
    strftime_format = DateTimeStrftimeFormat

    class Input(_ClockInput):
        format_type: DateTimeFormat = Field(
            default_factory=lambda: DateTimeStrftimeFormat(discriminator="strftime"),
            discriminator="discriminator",
            description="strftime with a pattern, or ISO 8601 / RFC 3339.",
        )

    class Output(BlockSchema):
        date_time: str = Field(description="The date and time, formatted.")

    test_vectors = (
        TestVector({"trigger": "go", "format": "constant"}, [("date_time", "constant")]),
        TestVector(
            {
                "trigger": "go",
                "format_type": {
                    "discriminator": "strftime",
                    "format": "",
                    "timezone": "Asia/Kathmandu",
                },
            },
            [("date_time", "")],
        ),
    )
