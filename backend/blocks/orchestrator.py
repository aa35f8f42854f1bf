"""AutoGPT's OrchestratorBlock (formerly SmartDecisionMakerBlock): a model picks the tools.

The blocks and agents linked to the node's tool pins are offered to the model as
functions (``orchestrator_tools``). When the model calls some, the node yields each
argument on ``tools_^_{sink node}_~_{sink pin}``, which the engine delivers to exactly
that pin, and the conversation so far on ``conversations``. Graphs link
``conversations`` back to ``conversation_history`` and each tool's output to
``last_tool_output``: the next execution of the node waits for both (``waits_for``),
answers the pending call with the tool's output and asks the model again. When the
model answers without a call, its text comes out on ``finished`` and the loop ends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from backend.providers.base import CompletionResponse, Message, Role

from .base import BlockContext, BlockOutput, BlockSchema, TestVector
from .conversation import assistant_turn, pending_calls, to_messages, tool_answer
from .llm_base import LLMBlock, LLMCall, LLMInput, PromptError, PromptValues, fill_prompt
from .llm_structured import MAX_ATTEMPTS
from .orchestrator_tools import ChosenCall, Tool, ToolCallError, build_tools, check_calls
from .pin_names import tool_pin

# AutoGPT marks the node's own system prompt and prompt so it adds them only once.
OBJECTIVE = "[Main Objective Prompt]: "
HISTORY_PIN = "conversation_history"
OUTPUT_PIN = "last_tool_output"
NO_TOOLS = (
    "no tools are linked to this node: link the blocks or agents it may call to its tools output"
)
DEFAULT_SYS_PROMPT = (
    "Think step by step about which function to call next. Call only the functions "
    "listed, with every argument their JSON schema requires, of the type it states. "
    "When the task is done, do not call a function: answer with the result of your work."
)


def _no_agent_mode(iterations: int) -> int:
    if iterations != 0:
        raise ValueError(
            "agent mode (tools run inside this node) is not supported: use 0, and link "
            "each tool's output back to last_tool_output"
        )
    return iterations


def _built_in(mode: str) -> str:
    if mode != "built_in":
        raise ValueError(f"execution mode {mode!r} is not supported: use 'built_in'")
    return mode


class OrchestratorBlock(LLMBlock):
    id = "3b191d9f-356f-482d-8238-ba04b6d18381"
    description = (
        "Lets a language model choose which linked block or agent to call, with which "
        "arguments, round after round, until it answers with a result."
    )
    uses_tools = True
    optional_links = frozenset({HISTORY_PIN, OUTPUT_PIN})

    class Input(LLMInput):
        prompt: str = Field(description="The task; {{ name }} is replaced by prompt_values.")
        multiple_tool_calls: bool = Field(
            False, description="Let the model call several tools in one answer."
        )
        sys_prompt: str = Field(
            DEFAULT_SYS_PROMPT, title="System Prompt", description="The system prompt."
        )
        conversation_history: list[dict[str, Any]] | None = Field(
            default_factory=list,
            description="The conversation so far: link the node's own conversations here.",
        )
        last_tool_output: Any = Field(
            None, description="The output of the tool called last: link each tool's output."
        )
        retry: int = Field(
            3,
            title="Retry Count",
            description="Attempts when the model calls a tool that does not exist or with "
            "arguments that do not fit.",
        )
        prompt_values: PromptValues = Field(
            default_factory=dict, description="Values filled into the prompt and system prompt."
        )
        max_tokens: int | None = Field(None, description="Most tokens each answer may have.")
        agent_mode_max_iterations: Annotated[int, AfterValidator(_no_agent_mode)] = Field(
            0,
            description="AutoGPT's agent mode; only 0 (tools run as nodes of the graph) is "
            "supported.",
        )
        execution_mode: Annotated[str, AfterValidator(_built_in)] = Field(
            "built_in", description="Only 'built_in' (the graph runs the tools) is supported."
        )
        conversation_compaction: bool = Field(
            True,
            description="Accepted for AutoGPT compatibility; a conversation too long for "
            "the model's context window fails instead of being shortened.",
        )

    class Output(BlockSchema):
        tools: Any = Field(
            description="Link each tool's inputs here; a chosen tool's arguments arrive on them."
        )
        finished: str = Field(description="The model's answer once it calls no more tools.")
        conversations: list[Any] = Field(
            description="The conversation so far: link it to this node's conversation_history."
        )
        tool_functions: str = Field(description="The tools offered, as JSON function definitions.")

    test_vectors = (TestVector({"prompt": "Hello, World!"}, [("error", NO_TOOLS)]),)

    def waits_for(self, input_data: Mapping[str, Any]) -> set[str]:
        """AutoGPT's rule: a pending tool call waits for its output, and an output waits
        for the conversation that asked for it."""
        history = input_data.get(HISTORY_PIN) or []
        pending = pending_calls(history) if isinstance(history, list) else []
        has_output = input_data.get(OUTPUT_PIN) is not None
        if pending and not has_output:
            return {OUTPUT_PIN}
        if has_output and not pending:
            return {HISTORY_PIN}
        return set()

    def input_links_problem(self, linked: Mapping[str, bool]) -> str | None:
        if (HISTORY_PIN in linked) != (OUTPUT_PIN in linked):
            return f"link both {HISTORY_PIN} and {OUTPUT_PIN}, or neither: the loop needs both"
        if linked.get(OUTPUT_PIN) and HISTORY_PIN in linked:
            return (
                f"{OUTPUT_PIN} cannot come through a static link (from StoreValue or an "
                "agent input): it would answer every later tool call with the same value"
            )
        return None

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        if not ctx.tools:
            raise PromptError(NO_TOOLS)
        tools = build_tools(ctx.tools)
        yield "tool_functions", json.dumps([tool.definition() for tool in tools])

        history = [dict(entry) for entry in pins.conversation_history or [] if entry]
        pending = pending_calls(history)
        output = pins.last_tool_output
        if pending and output is None:
            raise PromptError(f"tool call {pending[0]} has no output yet (last_tool_output)")
        if pending:
            # Which call an output answers is not known: like AutoGPT, the oldest one.
            history.append(tool_answer(pending[0], output))
            if len(pending) > 1:
                yield "conversations", history  # the next output answers the next call
                return
        elif output:
            ctx.logger.warning("node %s got a tool output with no call pending", ctx.node_id)
            history.append(
                {"role": "user", "content": f"Last tool output: {json.dumps(output, default=str)}"}
            )
        await self._add_objective(history, ctx, pins)

        response, chosen = await self._ask(LLMCall.prepare(ctx, pins), history, tools, pins)
        if not response.tool_calls:
            yield "finished", response.text
            return
        for choice in chosen:
            for argument, pin in choice.tool.fields.items():
                value = choice.arguments.get(argument)
                if value is not None:  # an argument left out feeds nothing, as in AutoGPT
                    yield tool_pin(choice.tool.sink_node_id, pin), value
        history.append(assistant_turn(response.text, response.tool_calls))
        yield "conversations", history

    @staticmethod
    async def _add_objective(history: list[dict[str, Any]], ctx: BlockContext, pins: Any) -> None:
        """The node's system prompt and prompt, filled in, unless the history has them."""
        for role, template in (("system", pins.sys_prompt), ("user", pins.prompt)):
            if not template or any(
                entry.get("role") == role
                and isinstance(entry.get("content"), str)
                and entry["content"].startswith(OBJECTIVE)
                for entry in history
            ):
                continue
            text = await fill_prompt(ctx, template, pins.prompt_values)
            history.append({"role": role, "content": OBJECTIVE + text})

    @staticmethod
    async def _ask(
        call: LLMCall, history: list[dict[str, Any]], tools: list[Tool], pins: Any
    ) -> tuple[CompletionResponse, list[ChosenCall]]:
        """One answer whose tool calls fit the tools; a misfit is shown to the model and
        asked again, up to ``retry`` attempts."""
        messages = to_messages(history)
        specs = [tool.spec() for tool in tools]
        problem = ToolCallError("no attempt made")
        for _ in range(max(1, min(pins.retry, MAX_ATTEMPTS))):
            response = await call(
                messages,
                max_tokens=pins.max_tokens,
                tools=specs,
                parallel_tool_calls=pins.multiple_tool_calls,
            )
            try:
                return response, check_calls(response.tool_calls, tools)
            except ToolCallError as exc:
                problem = exc
            messages = [
                *messages,
                Message(
                    Role.USER,
                    f"Your tool call had errors. Fix them and try again:\n- {problem}\n\nUse "
                    "the tool and parameter names exactly as the function schemas give them.",
                ),
            ]
        raise problem
