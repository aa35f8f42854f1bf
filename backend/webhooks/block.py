"""AutoGPT's generic webhook trigger, so graphs exported with one import and run here.

A node of this block starts its graph when the graph's hook receives a delivery: the
delivered body is the node's ``payload`` (run input named by the node's id, see
``trigger_input``). Run by hand, the payload is empty. Registered through the
``agent_server.blocks`` entry point in pyproject.toml.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from backend.blocks.base import Block, BlockContext, BlockOutput, BlockSchema, Isolation, TestVector


class GenericWebhookTriggerBlock(Block):
    id = "8fa8c167-2002-47ce-aba8-97572fc5d387"
    description = "Starts the graph with the body of a webhook delivery."
    categories = ("INPUT",)
    isolation = Isolation.INLINE  # passes two values on
    # The pin a run input addressed to this node (by node id) fills at the start.
    trigger_input: ClassVar[str] = "payload"

    class Input(BlockSchema):
        payload: Any = Field(
            default_factory=dict,
            description="The delivered body: JSON as sent, a form as an object, else text.",
        )
        constants: dict[str, Any] = Field(
            default_factory=dict, description="Values set when the block is put on the graph."
        )

    class Output(BlockSchema):
        payload: Any = Field(description="The delivered body.")
        constants: dict[str, Any] = Field(description="The constants set on the node.")

    test_vectors = (
        TestVector(
            {"payload": {"message": "Hello, World!"}, "constants": {"team": "a"}},
            [("constants", {"team": "a"}), ("payload", {"message": "Hello, World!"})],
        ),
        TestVector({}, [("constants", {}), ("payload", {})]),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        yield "constants", input_data.constants
        yield "payload", input_data.payload
