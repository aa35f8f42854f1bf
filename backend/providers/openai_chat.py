"""OpenAI chat completions, through the ``openai`` SDK: OpenAI itself and every endpoint
that speaks the same protocol (OpenRouter, Ollama's /v1, vLLM, LM Studio, proxies)."""

from __future__ import annotations

from typing import Any

import openai

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


class OpenAIChat(Provider):
    def __init__(
        self,
        name: str,
        client: openai.AsyncOpenAI,
        *,
        max_tokens_param: str = "max_completion_tokens",
        json_mode: bool = True,
        secret: str | None = None,
    ) -> None:
        self.name = name
        self._client = client
        self._secret = secret  # masked wherever it shows up in an error
        # OpenAI's own models take max_completion_tokens (o-series and gpt-5 refuse
        # max_tokens); most compatible servers still only read max_tokens.
        self._max_tokens_param = max_tokens_param
        self._json_mode = json_mode

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        with sdk_failures(self.name, openai, self._secret):
            completion = await self._client.chat.completions.create(**self._arguments(request))
            return self._response(request, completion)

    def _arguments(self, request: CompletionRequest) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "model": request.model,
            "messages": [_message(m) for m in request.messages],
            self._max_tokens_param: request.max_tokens,
        }
        if request.json_mode and self._json_mode:
            arguments["response_format"] = {"type": "json_object"}
        if request.tools:
            arguments["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    },
                }
                for tool in request.tools
            ]
            if request.parallel_tool_calls is not None:
                arguments["parallel_tool_calls"] = request.parallel_tool_calls
        return arguments

    def _response(self, request: CompletionRequest, completion: Any) -> CompletionResponse:
        if not isinstance(completion, openai.types.chat.ChatCompletion):
            raise ProviderError(f"{self.name} sent a malformed answer: not a chat completion")
        if not completion.choices:
            raise ProviderError(f"{self.name} sent an answer without choices")
        choice = completion.choices[0]
        calls = tuple(
            ToolCall(call.id, call.function.name, call.function.arguments)
            for call in choice.message.tool_calls or ()
            if call.type == "function"
        )
        text = choice.message.content or ""
        if not text and not calls:
            refusal = choice.message.refusal
            reason = f"refused: {refusal}" if refusal else f"finish reason {choice.finish_reason}"
            raise ProviderError(f"{self.name} sent an empty answer ({reason})")
        usage = completion.usage
        return CompletionResponse(
            text=text,
            provider=self.name,
            model=request.model,
            tool_calls=calls,
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            stop_reason=str(choice.finish_reason or ""),
        )


def _message(message: Message) -> dict[str, Any]:
    if message.role is Role.TOOL:
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    wire: dict[str, Any] = {"role": message.role.value, "content": message.content}
    if message.tool_calls:
        wire["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in message.tool_calls
        ]
    return wire
