"""What the run routes answer, as response models: the OpenAPI document describes each
answer field by field, and FastAPI checks every answer against its model before sending
it, so a generated client can trust both.

Times are epoch seconds. Values a graph passes around (inputs, outputs, pin data) are
any JSON; a non-finite number among them (inf, nan) is sent as null on every surface
(see docs/api.md).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from backend.data.execution import NodeStatus, RunStatus


class ApiModel(BaseModel):
    # A field added to a view before its model is never dropped from the answer.
    model_config = ConfigDict(extra="allow")


class ModelUsage(ApiModel):
    input_tokens: int
    output_tokens: int
    llm_calls: int


class RunStats(ApiModel):
    node_executions: int
    node_status_counts: dict[str, int] = Field(description="Node executions by status")
    attempts: int
    duration_seconds: float | None
    input_tokens: int
    output_tokens: int
    llm_calls: int
    models: dict[str, ModelUsage] = Field(description="LLM usage by model name")


class ChildRun(ApiModel):
    id: str
    status: RunStatus
    graph_id: str
    graph_version: int
    parent_node_exec_id: str | None


class Run(ApiModel):
    id: str
    graph_id: str
    graph_version: int
    status: RunStatus
    inputs: dict[str, Any] = Field(description="Run inputs by AgentInput name")
    outputs: dict[str, list[Any]] = Field(
        description="Values each AgentOutput received, by its name"
    )
    error: str | None
    cancel_requested: bool
    credentials: dict[str, Any] = Field(
        description="Credential references the run was started with (never secrets)"
    )
    max_tokens: int | None
    parent_run_id: str | None
    parent_node_exec_id: str | None
    depth: int = Field(description="0 for a run you started, 1+ for a sub-agent run")
    request_id: str | None = Field(
        description="X-Request-ID of the API request that submitted it (None: a schedule's)"
    )
    traceparent: str | None = Field(
        description="W3C traceparent that request sent (version-00 form), when valid"
    )
    created_at: float
    started_at: float | None
    ended_at: float | None


class RunView(Run):
    stats: RunStats
    children: list[ChildRun] = Field(description="Sub-agent runs it started (up to 200)")


class RunPage(ApiModel):
    items: list[Run]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


class NodeExecution(ApiModel):
    id: str
    run_id: str
    seq: int
    node_id: str
    block_id: str
    status: NodeStatus
    input_data: dict[str, Any]
    output_data: list[list[Any]] = Field(description="[pin name, value] pairs, in order")
    attempt: int
    error: str | None
    created_at: float
    started_at: float | None
    ended_at: float | None
    stats: dict[str, Any] = Field(description="What the block reported (LLM usage, ...)")
    reused_from: str | None = Field(
        description="The node execution of an earlier run whose outputs a resume reused"
    )


class NodeExecutionPage(ApiModel):
    items: list[NodeExecution]
    next_cursor: str | None


class CancelAnswer(ApiModel):
    id: str
    status: RunStatus
    cancel_requested: bool


class RerunAnswer(ApiModel):
    id: str
    status: RunStatus
    rerun_of: str


class ReusedNode(ApiModel):
    node_id: str
    node_exec_id: str
    reused_from: str


class ResumeAnswer(ApiModel):
    id: str
    status: RunStatus
    resumed_from: str
    reused: list[ReusedNode]
    to_run: list[str] = Field(description="Ids of the nodes the new run executes")


class RunStarted(ApiModel):
    id: str
    status: RunStatus


class DeliveryAnswer(RunStarted):
    replayed: bool = Field(description="A repeat of a delivery id already accepted")
