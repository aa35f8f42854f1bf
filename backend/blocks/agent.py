"""AgentExecutorBlock: runs another graph (a sub-agent) and yields its outputs.

As in AutoGPT, the node names the graph and version it runs (``graph_id``,
``graph_version``) with that graph's input and output schemas; its input pins are the
sub-agent's input names and its output pins the sub-agent's output names. The run itself
is the executor's (``ctx.agents``): a durable child run, started once per node execution
and waited for without holding a thread.

Differences from AutoGPT: the sub-agent runs as the user of the parent run whatever
``user_id`` the export carries, and ``nodes_input_masks`` is not supported (a node that
sets one fails with a clear error).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from .base import Block, BlockContext, BlockOutput, BlockSchema, BlockType, Isolation, TestVector
from .runtime import ServiceRefused, SubAgentResult

# A sub-agent may run as long as its parent's deadline allows (the node's limit is capped
# at BACKEND_MAX_NODE_TIMEOUT_SECONDS); the child run has the parent's deadline too.
SUB_AGENT_TIMEOUT_SECONDS = 86_400.0


def schema_names(schema: Any) -> set[str]:
    """The property names of a JSON schema (the pins an AgentExecutor node offers)."""
    if not isinstance(schema, Mapping):
        return set()
    properties = schema.get("properties")
    return {str(name) for name in properties} if isinstance(properties, Mapping) else set()


class AgentExecutorBlock(Block):
    id = "e189baac-8c20-45a1-94a7-55177ea42565"
    description = "Runs another agent (graph) with the given inputs and yields its outputs."
    categories = ("AGENT",)
    block_type = BlockType.AGENT
    isolation = Isolation.INLINE
    timeout_seconds: ClassVar[float | None] = SUB_AGENT_TIMEOUT_SECONDS

    class Input(BlockSchema):
        user_id: str = Field(default="", description="Ignored: the run's own user runs it.")
        graph_id: str = Field(description="The graph to run.")
        graph_version: int = Field(ge=1, description="Its version.")
        agent_name: str | None = Field(default=None, description="Shown name of the agent.")
        inputs: dict[str, Any] = Field(default_factory=dict, description="Its run inputs.")
        input_schema: dict[str, Any] = Field(
            default_factory=dict, description="The sub-agent's input schema (its pins)."
        )
        output_schema: dict[str, Any] = Field(
            default_factory=dict, description="The sub-agent's output schema (its pins)."
        )
        nodes_input_masks: dict[str, Any] | None = Field(
            default=None, description="Not supported here; must be empty."
        )

    class Output(BlockSchema):
        pass  # the sub-agent's outputs, by name

    test_vectors = (
        TestVector(
            {"graph_id": "g", "graph_version": 1},
            [("error", "sub-agents run only in an executor or a local run")],
        ),
    )

    def input_pins_for(self, input_default: Mapping[str, Any]) -> set[str]:
        return self.input_pins() | schema_names(input_default.get("input_schema"))

    def output_pins_for(self, input_default: Mapping[str, Any]) -> set[str]:
        return self.output_pins() | schema_names(input_default.get("output_schema"))

    def validate_input(self, data: dict[str, Any]) -> BlockSchema:
        # Linked pins carry the sub-agent's input names: they are its inputs.
        names = schema_names(data.get("input_schema"))
        extra = {k: v for k, v in data.items() if k in names and k not in self.input_pins()}
        if extra:
            inputs = data.get("inputs")
            data = {**data, "inputs": {**(inputs if isinstance(inputs, dict) else {}), **extra}}
        return super().validate_input(data)

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        if input_data.nodes_input_masks:
            yield "error", "nodes_input_masks are not supported"
            return
        if ctx.agents is None:
            yield "error", "sub-agents run only in an executor or a local run"
            return
        try:
            result = await ctx.agents.run(
                input_data.graph_id, input_data.graph_version, dict(input_data.inputs)
            )
        except ServiceRefused as exc:
            yield "error", str(exc)
            return
        ctx.stats.update(result.stats)
        if result.status != "COMPLETED":
            yield "error", failure(result)
            return
        for name, values in result.outputs.items():
            for value in values:
                yield name, value


def failure(result: SubAgentResult) -> str:
    word = "was cancelled" if result.status == "TERMINATED" else "failed"
    detail = f": {result.error}" if result.error else ""
    return f"sub-agent run {result.run_id} {word}{detail}"
