"""AutoGPT's LLM blocks: same ids, pins and behaviour, on ``backend.providers``.

Every block states its model with the ``model`` pin; its provider decides which
credential the node needs (``required_credentials``). A failure of the provider, the
prompt template or the answer's shape comes out on the ``error`` pin.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import Field

from .base import BlockContext, BlockOutput, BlockSchema, TestVector
from .llm_base import (
    AnswerError,
    LLMBlock,
    LLMCall,
    LLMInput,
    PromptError,
    PromptValues,
    fill_prompt,
    history,
)
from .llm_structured import Answer, structured_answer
from .llm_summary import summarize

NO_KEY = (
    "model gpt-4o needs an API key for provider openai: give the node a credential for it "
    "or set the operator's default key"
)
PROMPT_SENT = "The messages sent to the model in its last call."


class PromptInput(LLMInput):
    """The pins of the two blocks that send a user's own prompt."""

    prompt: str = Field(description="The prompt; {{ name }} is replaced by prompt_values['name'].")
    sys_prompt: str = Field("", title="System Prompt", description="The system prompt.")
    prompt_values: PromptValues = Field(
        default_factory=dict, description="Values filled into the prompt and system prompt."
    )
    max_tokens: int | None = Field(None, description="Most tokens the answer may have.")


async def answer_prompt(ctx: BlockContext, pins: PromptInput, **shape: Any) -> Answer:
    """The node's prompts filled in and answered (``shape``: see ``structured_answer``)."""
    return await structured_answer(
        LLMCall.prepare(ctx, pins),
        prompt=await fill_prompt(ctx, pins.prompt, pins.prompt_values),
        sys_prompt=await fill_prompt(ctx, pins.sys_prompt, pins.prompt_values),
        max_tokens=pins.max_tokens,
        **shape,
    )


class AITextGeneratorBlock(LLMBlock):
    id = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
    description = "Asks a language model for a text answer to a prompt filled with values."

    class Input(PromptInput):
        retry: int = Field(
            3,
            title="Retry Count",
            description="Accepted for AutoGPT compatibility: a text answer is not re-asked; "
            "failed calls are retried as the operator's BACKEND_LLM_MAX_RETRIES says.",
        )

    class Output(BlockSchema):
        response: str = Field(description="The model's answer.")
        prompt: list[Any] = Field(description=PROMPT_SENT)

    test_vectors = (TestVector({"prompt": "User prompt"}, [("error", NO_KEY)]),)

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        answer = await answer_prompt(ctx, pins)
        yield "response", answer.value["response"]
        yield "prompt", answer.prompt


class AIStructuredResponseGeneratorBlock(LLMBlock):
    id = "ed55ac19-356e-4243-a6cb-bc599e9b716f"
    description = "Asks a language model for a JSON object (or list of them) of a given shape."

    class Input(PromptInput):
        expected_format: dict[str, str] = Field(
            description="The keys the answer must have, each with a description of its value."
        )
        list_result: bool = Field(False, description="Answer with a list of such objects.")
        force_json_output: bool = Field(
            False, description="Ask for bare JSON (more reliable, leaves no room to reason)."
        )
        conversation_history: list[dict[str, Any]] | None = Field(
            default_factory=list, description="Earlier messages ({role, content}) to send first."
        )
        retry: int = Field(
            3, title="Retry Count", description="Attempts when the answer has the wrong shape."
        )
        compress_prompt_to_fit: bool = Field(
            True,
            description="Accepted for AutoGPT compatibility; a prompt too long for the "
            "model's context window fails instead of being shortened.",
        )

    class Output(BlockSchema):
        response: dict[str, Any] | list[dict[str, Any]] = Field(description="The parsed answer.")
        prompt: list[Any] = Field(description=PROMPT_SENT)

    test_vectors = (
        TestVector({"prompt": "User prompt", "expected_format": {"k": "v"}}, [("error", NO_KEY)]),
    )

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        answer = await answer_prompt(
            ctx,
            pins,
            history=history(pins.conversation_history or []),
            expected_format=pins.expected_format,
            list_result=pins.list_result,
            force_json=pins.force_json_output,
            retry=pins.retry,
        )
        yield "response", answer.value
        yield "prompt", answer.prompt


class AIListGeneratorBlock(LLMBlock):
    id = "9c0b0450-d199-458b-a731-072189dd6593"
    description = "Asks a language model for a list of strings, from source data or invented."
    categories = ("AI", "TEXT")

    SYSTEM_PROMPT = (
        "You generate JSON arrays of strings from the user's request. Put the array in "
        "the 'list' field; it may hold strings only, for example: "
        '["string1", "string2", "string3"].'
    )

    class Input(LLMInput):
        focus: str | None = Field(None, description="What the list should be about.")
        source_data: str | None = Field(None, description="The data to take the list from.")
        max_retries: int = Field(3, ge=1, le=5, description="Attempts at a valid list.")
        force_json_output: bool = Field(
            False, description="Ask for bare JSON (more reliable, leaves no room to reason)."
        )
        max_tokens: int | None = Field(None, description="Most tokens the answer may have.")

    class Output(BlockSchema):
        generated_list: list[Any] = Field(description="The list.")
        list_item: Any = Field(description="Each item of the list, one by one.")
        prompt: list[Any] = Field(description=PROMPT_SENT)

    test_vectors = (TestVector({"focus": "planets"}, [("error", NO_KEY)]),)

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        expected = {"list": "A JSON array of the generated strings"}
        if pins.force_json_output:
            expected = {"reasoning": "... (optional)", **expected}
        answer = await structured_answer(
            LLMCall.prepare(ctx, pins),
            prompt=self._prompt(pins.focus, pins.source_data),
            sys_prompt=self.SYSTEM_PROMPT,
            expected_format=expected,
            force_json=pins.force_json_output,
            retry=pins.max_retries,
            max_tokens=pins.max_tokens,
        )
        items = answer.value.get("list")
        if not isinstance(items, list):
            raise AnswerError(f"expected a list, but got {type(items).__name__}: {items}")
        yield "generated_list", items
        yield "prompt", answer.prompt
        for item in items:
            yield "list_item", item

    @staticmethod
    def _prompt(focus: str | None, source_data: str | None) -> str:
        if focus:
            prompt = f"Generate a list with this focus:\n<focus>\n\n{focus}</focus>"
        elif source_data:
            prompt = (
                "Make a list of the main subject of the source data: for a news page, the "
                "stories rather than the links in its footer."
            )
        else:
            prompt = "Generate a random list."
        if not source_data:
            return prompt + "\n\nInvent the data the list is made from."
        return (
            f"{prompt}\n\nTake the list from this source data:\n\n<source_data>\n\n"
            f"{source_data}</source_data>\n\nDo not invent anything the source data does "
            "not contain."
        )


class SummaryStyle(Enum):
    CONCISE = "concise"
    DETAILED = "detailed"
    BULLET_POINTS = "bullet points"
    NUMBERED_LIST = "numbered list"


class AITextSummarizerBlock(LLMBlock):
    id = "a0a69be1-4528-491c-a85a-a4ab6873e3f0"
    description = "Summarises a long text chunk by chunk with a language model."
    categories = ("AI", "TEXT")

    class Input(LLMInput):
        text: str = Field(description="The text to summarise.")
        focus: str = Field("general information", description="The topic to focus on.")
        style: SummaryStyle = Field(SummaryStyle.CONCISE, description="The summary's style.")
        max_tokens: int = Field(
            4096, ge=1, description="Words per chunk of the text (AutoGPT's name for it)."
        )
        chunk_overlap: int = Field(100, ge=0, description="Words shared by adjacent chunks.")

    class Output(BlockSchema):
        summary: str = Field(description="The summary of the whole text.")
        prompt: list[Any] = Field(description=PROMPT_SENT)

    test_vectors = (TestVector({"text": "Lorem ipsum " * 100}, [("error", NO_KEY)]),)

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        summary, prompt = await summarize(
            LLMCall.prepare(ctx, pins),
            pins.text,
            focus=pins.focus,
            style=pins.style.value,
            max_tokens=pins.max_tokens,
            overlap=pins.chunk_overlap,
        )
        yield "summary", summary
        yield "prompt", prompt


class AIConversationBlock(LLMBlock):
    id = "32a87eab-381e-4dd4-bdb8-4c47151be35a"
    description = "Continues a conversation (a list of role/content messages) with a model."

    class Input(LLMInput):
        prompt: str = Field("", description="A last user message to add, if any.")
        messages: list[Any] = Field(description="The conversation so far ({role, content}).")
        max_tokens: int | None = Field(None, description="Most tokens the answer may have.")

    class Output(BlockSchema):
        response: str = Field(description="The model's answer.")
        prompt: list[Any] = Field(description=PROMPT_SENT)

    test_vectors = (
        TestVector(
            {"messages": [{"role": "user", "content": "Where was it played?"}]},
            [("error", NO_KEY)],
        ),
        TestVector(
            {"messages": [], "prompt": " "},
            [("error", "nothing to send: give at least one message or a prompt")],
        ),
    )

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        turns = history(pins.messages)
        if not pins.prompt.strip() and not any(m.content.strip() for m in turns):
            raise PromptError("nothing to send: give at least one message or a prompt")
        answer = await structured_answer(
            LLMCall.prepare(ctx, pins),
            prompt=pins.prompt,
            history=turns,
            max_tokens=pins.max_tokens,
        )
        yield "response", answer.value["response"]
        yield "prompt", answer.prompt
