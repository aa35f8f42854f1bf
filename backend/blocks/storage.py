"""AutoGPT's Persist/RetrieveInformation blocks: a key/value store per user.

Scope ``within_agent`` keeps a key to one agent (graph) across its runs; ``across_agents``
shares it between all of the user's agents. The store itself is the executor's
(``ctx.kv``); users never see each other's keys.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .base import Block, BlockContext, BlockOutput, BlockSchema, Isolation, TestVector
from .runtime import ServiceRefused

StorageScope = Literal["within_agent", "across_agents"]
MAX_KEY_LENGTH = 200
NO_STORE = "the key/value store is available only in an executor or a local run"


def scope_of(scope: StorageScope, graph_id: str) -> str:
    return "global" if scope == "across_agents" else f"agent#{graph_id}"


class PersistInformationBlock(Block):
    id = "1d055e55-a2b9-4547-8311-907d05b0304d"
    description = "Stores a value under a key for the current user, in an agent's or all scopes."
    categories = ("DATA",)
    isolation = Isolation.INLINE

    class Input(BlockSchema):
        key: str = Field(max_length=MAX_KEY_LENGTH, description="Key to store the value under.")
        value: Any = Field(description="Value to store.")
        scope: StorageScope = Field(
            default="within_agent",
            description="within_agent: this agent's runs share it; across_agents: every "
            "agent of the user does.",
        )

    class Output(BlockSchema):
        value: Any = Field(description="The value that was stored.")

    test_vectors = (TestVector({"key": "k", "value": 1}, [("error", NO_STORE)]),)

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        if ctx.kv is None:
            yield "error", NO_STORE
            return
        try:
            await ctx.kv.put(
                scope_of(input_data.scope, ctx.graph_id), input_data.key, input_data.value
            )
        except ServiceRefused as exc:
            yield "error", str(exc)
            return
        yield "value", input_data.value


class RetrieveInformationBlock(Block):
    id = "d8710fc9-6e29-481e-a7d5-165eb16f8471"
    description = "Reads the value stored under a key for the current user, or a default."
    categories = ("DATA",)
    isolation = Isolation.INLINE
    static_output = True

    class Input(BlockSchema):
        key: str = Field(max_length=MAX_KEY_LENGTH, description="Key to read.")
        scope: StorageScope = Field(
            default="within_agent", description="within_agent or across_agents."
        )
        default_value: Any = Field(default=None, description="Returned when the key is unset.")

    class Output(BlockSchema):
        value: Any = Field(description="The stored value, or the default.")

    test_vectors = (TestVector({"key": "k"}, [("error", NO_STORE)]),)

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        if ctx.kv is None:
            yield "error", NO_STORE
            return
        found, value = await ctx.kv.get(scope_of(input_data.scope, ctx.graph_id), input_data.key)
        # As in AutoGPT, a stored null reads as unset.
        yield "value", value if found and value is not None else input_data.default_value
