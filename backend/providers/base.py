"""The one LLM interface: a provider turns a ``CompletionRequest`` into a ``CompletionResponse``.

Blocks and the Orchestrator speak only these types. Each provider module maps them to
and from one wire protocol through that provider's official SDK; the HTTP behaviour
under the SDK (timeouts, retries, the time budget) lives in ``backend.providers.http``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from backend.errors import ProviderError

__all__ = [
    "CompletionRequest",
    "CompletionResponse",
    "Message",
    "Provider",
    "ProviderError",
    "Role",
    "ToolCall",
    "ToolSpec",
]


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"  # the result of a tool call, answering ``tool_call_id``


@dataclass(frozen=True)
class ToolCall:
    """A call the model asks for; ``arguments`` is the JSON text the model wrote."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolSpec:
    """A function the model may call; ``parameters`` is its JSON schema (an object)."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object"})


@dataclass(frozen=True)
class Message:
    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant turn that called tools
    tool_call_id: str = ""  # a TOOL turn: the call it answers

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        """AutoGPT's ``{"role", "content"}`` shape; content that is not text becomes text."""
        role = Role(str(data.get("role", "user")))
        content = data.get("content")
        return cls(role, content if isinstance(content, str) else str(content or ""))

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role.value, "content": self.content}


@dataclass(frozen=True)
class CompletionRequest:
    """One chat completion. System turns may appear anywhere in ``messages``; a provider
    without system turns mid-conversation gathers them into its system prompt."""

    model: str  # the provider's own model name (aliases already resolved)
    messages: tuple[Message, ...]
    max_tokens: int
    json_mode: bool = False  # ask for a bare JSON object where the provider can
    tools: tuple[ToolSpec, ...] = ()
    parallel_tool_calls: bool | None = None  # None: the provider's default

    @property
    def system_prompt(self) -> str:
        return "\n\n".join(m.content for m in self.messages if m.role is Role.SYSTEM)


@dataclass(frozen=True)
class CompletionResponse:
    text: str
    provider: str
    model: str
    tool_calls: tuple[ToolCall, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0
    latency_seconds: float = 0.0
    stop_reason: str = ""


class Provider(abc.ABC):
    """One provider endpoint with one API key. ``complete`` raises ``ProviderError`` for
    every failure a user can read: refused, rate limited, down, too slow, malformed."""

    name: str

    @abc.abstractmethod
    async def complete(self, request: CompletionRequest) -> CompletionResponse: ...
