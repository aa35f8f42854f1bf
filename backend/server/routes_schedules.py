"""Schedules: create, list, read, change, pause, resume, delete. Another user's schedule
answers 404, like one that does not exist."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from backend.data.schedules import MisfirePolicy
from backend.data.schema import INT_MAX
from backend.executor.limits import Limits
from backend.schedules.manage import ScheduleSpec, create_schedule, schedule_view, update_schedule
from backend.server.auth import UserDep
from backend.server.deps import SettingsDep, StoreDep
from backend.server.models import ScheduleList, ScheduleView
from backend.server.openapi import errors

router = APIRouter(prefix="/api/v1", tags=["schedules"])

Version = Annotated[int, Field(ge=1, le=INT_MAX)] | Literal["latest"] | None
_VERSION = Field(
    None, description='Graph version to run, or "latest" (the active one at each slot).'
)
_NAME = Field(None, max_length=255)
_CRON_TEXT = "5 fields (minute hour day month weekday), or 6 with seconds first."
_CRON = Field(None, description=_CRON_TEXT)
_TIMEZONE = Field(None, max_length=64, description="IANA name, e.g. Europe/Berlin.")
_MISFIRE = Field(None, description="What missed slots do: skip, once (default) or each.")


class ScheduleChange(BaseModel):
    cron: str | None = _CRON
    timezone: str | None = _TIMEZONE
    inputs: dict[str, Any] | None = Field(None, description="Run inputs by AgentInput name.")
    name: str | None = _NAME
    misfire_policy: MisfirePolicy | None = _MISFIRE
    enabled: bool | None = None
    graph_version: Version = _VERSION

    def spec(self) -> ScheduleSpec:
        version = self.graph_version
        return ScheduleSpec(
            cron=self.cron,
            timezone=self.timezone,
            inputs=self.inputs,
            name=self.name,
            misfire=self.misfire_policy,
            enabled=self.enabled,
            graph_version=0 if version == "latest" else version,
        )


class NewSchedule(ScheduleChange):
    graph_id: str = Field(max_length=64)
    cron: str = Field(description=_CRON_TEXT)


@router.post(
    "/schedules",
    status_code=status.HTTP_201_CREATED,
    summary="Schedule a graph: runs start at the cron expression's times, in its timezone",
    name="create_schedule",
    responses=errors(404),
    response_model=ScheduleView,
)
def post_schedule(
    body: NewSchedule, user: UserDep, store: StoreDep, settings: SettingsDep
) -> dict[str, Any]:
    limits = Limits.from_settings(settings)
    return schedule_view(create_schedule(store, user, body.graph_id, body.spec(), limits))


@router.get("/schedules", summary="List your schedules (oldest first)", response_model=ScheduleList)
def list_schedules(
    user: UserDep,
    store: StoreDep,
    graph_id: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    return {"items": [schedule_view(r) for r in store.list_schedules(user, graph_id)]}


@router.get(
    "/schedules/{schedule_id}",
    summary="One schedule, with its next five fire times",
    response_model=ScheduleView,
)
def get_schedule(schedule_id: str, user: UserDep, store: StoreDep) -> dict[str, Any]:
    return schedule_view(store.get_schedule(user, schedule_id))


@router.patch(
    "/schedules/{schedule_id}",
    summary="Change a schedule (fields left out stay)",
    name="update_schedule",
    response_model=ScheduleView,
)
def patch_schedule(
    schedule_id: str, body: ScheduleChange, user: UserDep, store: StoreDep, settings: SettingsDep
) -> dict[str, Any]:
    record = store.get_schedule(user, schedule_id)
    limits = Limits.from_settings(settings)
    return schedule_view(update_schedule(store, record, body.spec(), limits))


def _set_enabled(
    schedule_id: str, enabled: bool, user: str, store: StoreDep, settings: SettingsDep
) -> dict[str, Any]:
    record = store.get_schedule(user, schedule_id)
    spec = ScheduleSpec(enabled=enabled)
    return schedule_view(update_schedule(store, record, spec, Limits.from_settings(settings)))


@router.post(
    "/schedules/{schedule_id}/pause",
    summary="Stop firing (slots while paused never run)",
    response_model=ScheduleView,
)
def pause_schedule(
    schedule_id: str, user: UserDep, store: StoreDep, settings: SettingsDep
) -> dict[str, Any]:
    return _set_enabled(schedule_id, False, user, store, settings)


@router.post(
    "/schedules/{schedule_id}/resume",
    summary="Fire again, from the next slot on",
    response_model=ScheduleView,
)
def resume_schedule(
    schedule_id: str, user: UserDep, store: StoreDep, settings: SettingsDep
) -> dict[str, Any]:
    return _set_enabled(schedule_id, True, user, store, settings)


@router.delete(
    "/schedules/{schedule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a schedule (its runs keep their history)",
)
def delete_schedule(schedule_id: str, user: UserDep, store: StoreDep) -> None:
    store.delete_schedule(user, schedule_id)
