"""What the graph, block, credential, file, schedule, webhook and health routes answer,
as response models (the run routes' are in models_runs.py). Times are epoch seconds."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from backend.blocks.base import BlockType
from backend.data.hooks import HookAuth
from backend.data.schedules import MisfirePolicy
from backend.providers.credentials import CredentialsType
from backend.server.models_runs import ApiModel


class Status(ApiModel):
    status: str = Field(examples=["ok"])


class Block(ApiModel):
    id: str
    name: str
    description: str
    categories: list[str]
    block_type: BlockType
    static_output: bool
    input_schema: dict[str, Any] = Field(description="JSON schema of its input pins")
    output_schema: dict[str, Any] = Field(description="JSON schema of its output pins")


class Link(ApiModel):
    id: str | None = Field(None, description="Left out when the link has none")
    source_id: str
    sink_id: str
    source_name: str
    sink_name: str
    is_static: bool


class GraphNode(ApiModel):
    id: str
    block_id: str
    input_default: dict[str, Any]
    metadata: dict[str, Any]
    input_links: list[Link]
    output_links: list[Link]


class GraphData(ApiModel):
    """A graph in the AutoGPT export shape."""

    id: str
    version: int
    name: str
    description: str
    is_active: bool
    nodes: list[GraphNode]
    links: list[Link]
    recommended_schedule_cron: str | None
    has_external_trigger: bool


class CredentialsNeed(ApiModel):
    field: str = Field(description="Name of the execute body's `credentials` entry")
    provider: str
    nodes: list[str] = Field(description="Ids of the nodes that need it")
    available: bool = Field(description="You, or the operator's default, have one")


class ImportedSubGraph(ApiModel):
    source_id: str = Field(description="Its id in the export")
    id: str
    version: int
    name: str
    reused: bool


class SuggestedSchedule(ApiModel):
    """An export's recommended_schedule_cron, offered (never started by itself)."""

    cron: str
    valid: bool
    problem: str | None = Field(None, description="Why the cron is not valid")
    description: str | None = None
    next_fire_times_utc: list[str] | None = None
    how: str | None = Field(None, description="How to set it up")


class GraphView(GraphData):
    credentials_required: list[CredentialsNeed]
    sub_graphs: list[GraphData] | None = Field(
        None, description="With ?include_sub_graphs=true: every graph it runs"
    )


class CreatedGraph(GraphView):
    sub_graphs_imported: list[ImportedSubGraph]
    reused: bool | None = Field(None, description="With ?reuse=true: a graph was reused")
    suggested_schedule: SuggestedSchedule | None = None


class GraphSummary(ApiModel):
    id: str
    version: int
    name: str
    description: str
    created_at: float


class GraphPage(ApiModel):
    items: list[GraphSummary]
    next_cursor: str | None


class Credentials(ApiModel):
    id: str
    provider: str
    type: CredentialsType
    title: str
    hint: str = Field(description="A masked hint of the secret, e.g. sk-...abcd")
    scopes: list[str]
    created_at: float
    updated_at: float


class CredentialsList(ApiModel):
    items: list[Credentials]


class File(ApiModel):
    id: str
    run_id: str
    node_exec_id: str
    name: str
    content_type: str
    size: int
    sha256: str
    created_at: float
    url: str = Field(description="Where to download it")


class FilePage(ApiModel):
    items: list[File]
    next_cursor: str | None


class ScheduleView(ApiModel):
    id: str
    name: str
    graph_id: str
    graph_version: int | None = Field(description="null: the active version at each slot")
    cron: str
    timezone: str
    inputs: dict[str, Any]
    enabled: bool
    misfire_policy: MisfirePolicy
    next_fire_at: float
    last_slot_at: float | None
    last_run_id: str | None
    last_error: str | None
    created_at: float
    updated_at: float
    description: str = Field(description="The cron expression in words")
    next_fire_times: list[str] = Field(description="ISO 8601 in its timezone; none if paused")


class ScheduleList(ApiModel):
    items: list[ScheduleView]


class Hook(ApiModel):
    id: str
    name: str
    graph_id: str
    graph_version: int | None
    input: str
    auth: HookAuth
    enabled: bool
    path: str = Field(description="Where deliveries go")
    created_at: float
    updated_at: float


class NewHookAnswer(Hook):
    secret: str = Field(description="Shown only in this answer")


class HookList(ApiModel):
    items: list[Hook]
