"""Anthropic's Messages API, through the ``anthropic`` SDK.

The protocol differs from chat completions in three ways this module bridges: system
turns become the one ``system`` prompt, consecutive turns of one role are merged (the
API wants user and assistant to alternate), and tool calls and their results are
content blocks of assistant and user turns.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic

from .base import (
    CompletionRequest,
    CompletionResponse,
    Message,
    Provider,
    ProviderError,
    Role,
    ToolCall,
)
from .failures import sdk_failures

NAME = "anthropic"


class AnthropicMessages(Provider):
    name = NAME

    def __init__(self, client: anthropic.AsyncAnthropic, secret: str | None = None) -> None:
        self._client = client
        self._secret = secret  # masked wherever it shows up in an error

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        with sdk_failures(NAME, anthropic, self._secret):
            message = await self._client.messages.create(**_arguments(request))
            return _response(request, message)


def _arguments(request: CompletionRequest) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "messages": _turns(request.messages),
    }
    if system := request.system_prompt:
        arguments["system"] = system
    if request.tools:
        arguments["tools"] = [
            {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}
            for tool in request.tools
        ]
        if request.parallel_tool_calls is False:
            arguments["tool_choice"] = {"type": "auto", "disable_parallel_tool_use": True}
    return arguments


def _turns(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role is Role.SYSTEM:
            continue
        role = "assistant" if message.role is Role.ASSISTANT else "user"
        blocks = _blocks(message)
        if turns and turns[-1]["role"] == role:
            _merge(turns[-1]["content"], blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return turns


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role is Role.TOOL:
        return [
            {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content}
        ]
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError:
            arguments = {}
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": arguments})
    return blocks


def _merge(into: list[dict[str, Any]], blocks: list[dict[str, Any]]) -> None:
    """Append ``blocks`` to a turn, joining adjacent text so the turn reads as one."""
    for block in blocks:
        if block["type"] == "text" and into and into[-1]["type"] == "text":
            into[-1] = {"type": "text", "text": f"{into[-1]['text']}\n\n{block['text']}"}
        else:
            into.append(block)


def _response(request: CompletionRequest, message: Any) -> CompletionResponse:
    if not isinstance(message, anthropic.types.Message):
        raise ProviderError(f"{NAME} sent a malformed answer: not a message")
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in message.content or ():
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            calls.append(ToolCall(block.id, block.name, json.dumps(block.input)))
    text = "".join(texts)
    if not text and not calls:
        raise ProviderError(f"{NAME} sent an empty answer (stop reason {message.stop_reason})")
    return CompletionResponse(
        text=text,
        provider=NAME,
        model=request.model,
        tool_calls=tuple(calls),
        input_tokens=message.usage.input_tokens,
        output_tokens=message.usage.output_tokens,
        stop_reason=str(message.stop_reason or ""),
    )
