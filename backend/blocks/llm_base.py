"""What every LLM block shares: the common pins, the credential a node needs, one call.

The blocks themselves (``backend.blocks.llm``) are schemas plus short ``run`` methods;
provider plumbing stays in ``backend.providers``. User templates (the prompt with its
``prompt_values``) are rendered through ``ctx.compute``, never on the event loop.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BeforeValidator, Field

from backend.errors import ProviderError
from backend.providers.base import CompletionResponse, Message, Role, ToolSpec
from backend.providers.credentials import Credentials, CredentialsMetaInput
from backend.providers.llm import (
    AUTOGPT_OLLAMA_HOST,
    LLMClient,
    check_model,
    default_llm,
    needs_api_key,
)
from backend.providers.models import DEFAULT_MODEL, OLLAMA, ModelInfo, UnknownModel

from .base import Block, BlockContext, BlockOutput, BlockSchema, Isolation
from .templates import render_template

CREDENTIALS_FIELD = "credentials"


class PromptError(ValueError):
    """The node's prompt does not render, or its conversation is not one."""


class AnswerError(ValueError):
    """The model's answers never had the shape the block needs."""


# What an LLM block reports on its error pin instead of raising.
LLM_FAILURES = (ProviderError, PromptError, AnswerError, UnknownModel)


def _as_texts(value: Any) -> Any:
    """AutoGPT passes non-text prompt values as their JSON text."""
    if isinstance(value, dict):
        return {
            k: v if isinstance(v, str) else json.dumps(v, default=str) for k, v in value.items()
        }
    return value


ModelName = Annotated[str, AfterValidator(check_model)]
PromptValues = Annotated[dict[str, str], BeforeValidator(_as_texts)]


class LLMInput(BlockSchema):
    """The pins every LLM block has (AutoGPT's names and defaults)."""

    model: ModelName = Field(
        DEFAULT_MODEL,
        title="LLM Model",
        description="The language model to use (see the model table in docs/llm.md).",
    )
    credentials: CredentialsMetaInput | None = Field(
        None,
        description="API key for the model's provider; without one, the operator's default.",
    )
    ollama_host: str = Field(
        AUTOGPT_OLLAMA_HOST,
        description="Ollama server for Ollama models; other values than the default need "
        "private network access to be allowed by the operator.",
    )


class LLMBlock(Block):
    """Base of the LLM blocks: async, waiting on the network, so they run inline."""

    isolation = Isolation.INLINE
    spends_tokens = True
    categories: ClassVar[tuple[str, ...]] = ("AI",)

    async def run(self, input_data: Any, ctx: BlockContext) -> BlockOutput:
        try:
            async for pin, value in self.outputs(input_data, ctx):
                yield pin, value
        except LLM_FAILURES as exc:
            yield "error", str(exc)

    def outputs(self, pins: Any, ctx: BlockContext) -> BlockOutput:
        """The block's work; an expected failure it raises becomes the ``error`` output."""
        raise NotImplementedError

    def required_credentials(self, input_data: Mapping[str, Any]) -> dict[str, str]:
        try:
            info = default_llm().models.resolve(str(input_data.get("model") or DEFAULT_MODEL))
        except UnknownModel:
            return {}  # validation reports the model itself
        return {CREDENTIALS_FIELD: info.provider} if needs_api_key(info) else {}


@dataclass(frozen=True)
class LLMCall:
    """One node's way to its model: resolved once, called once per LLM round trip."""

    ctx: BlockContext
    llm: LLMClient
    info: ModelInfo
    credentials: Credentials | None
    ollama_host: str | None

    @classmethod
    def prepare(cls, ctx: BlockContext, pins: LLMInput) -> LLMCall:
        llm = ctx.llm or default_llm()
        info = llm.models.resolve(pins.model)
        host = _node_ollama_host(pins.ollama_host, ctx) if info.provider == OLLAMA else None
        return cls(ctx, llm, info, ctx.credentials.get(CREDENTIALS_FIELD), host)

    async def __call__(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        json_mode: bool = False,
        tools: Sequence[ToolSpec] = (),
        parallel_tool_calls: bool | None = None,
    ) -> CompletionResponse:
        response = await self.llm.complete(
            self.info,
            messages,
            credentials=self.credentials,
            max_tokens=max_tokens,
            json_mode=json_mode,
            tools=tools,
            parallel_tool_calls=parallel_tool_calls,
            ollama_host=self.ollama_host,
            deadline=self.ctx.deadline,
        )
        _record(self.ctx.stats, response)
        return response


def _node_ollama_host(host: str, ctx: BlockContext) -> str | None:
    """The node's own Ollama host, or None for the operator's ``BACKEND_OLLAMA_HOST``.

    Exports carry AutoGPT's default everywhere; that means "the server's Ollama". Any
    other host is a graph author choosing where the server connects, which is allowed
    only where graphs may reach private networks anyway.
    """
    if not host or host == AUTOGPT_OLLAMA_HOST:
        return None
    if not ctx.allow_private_network:
        raise ProviderError(
            f"ollama_host {host!r} is not allowed: this server uses its configured Ollama "
            "host (BACKEND_OLLAMA_HOST) unless BACKEND_ALLOW_PRIVATE_NETWORK is on"
        )
    return host


def _record(stats: dict[str, Any], response: CompletionResponse) -> None:
    stats["provider"] = response.provider
    stats["model"] = response.model
    for key, value in (
        ("input_tokens", response.input_tokens),
        ("output_tokens", response.output_tokens),
        ("latency_seconds", response.latency_seconds),
        ("llm_calls", 1),
    ):
        stats[key] = stats.get(key, 0) + value


async def fill_prompt(ctx: BlockContext, template: str, values: Mapping[str, str]) -> str:
    """``template`` with its ``{{ name }}`` placeholders filled, rendered in a worker.

    Like AutoGPT, a prompt without values is sent exactly as written.
    """
    if not values or not template:
        return template
    try:
        text: str = await ctx.compute(render_template, template, dict(values))
    except Exception as exc:  # the template's own errors, whatever their type
        raise PromptError(f"prompt template failed: {exc}") from None
    return text


def history(entries: Sequence[Any]) -> list[Message]:
    """AutoGPT's conversation entries ({"role", "content"}) as messages; empty ones skipped."""
    messages = []
    for entry in entries:
        if not entry:
            continue
        if not isinstance(entry, dict) or entry.get("role") not in set(Role):
            raise PromptError(
                f"a conversation message must be an object with a role of "
                f"{', '.join(Role)}: got {json.dumps(entry, default=str)[:80]}"
            )
        messages.append(Message.from_dict(entry))
    return messages
