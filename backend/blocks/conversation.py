"""The Orchestrator's conversation: the messages it passes to itself between iterations.

What the block yields on ``conversations`` (and reads back on ``conversation_history``)
is a list of OpenAI chat messages, whatever the provider: ``{"role", "content"}``, an
assistant turn with ``tool_calls``, a ``{"role": "tool", "tool_call_id", "content"}``
answer. Histories written by AutoGPT are read too: besides that shape it stores
Anthropic turns (``tool_use`` / ``tool_result`` content blocks) and OpenAI Responses
items (``function_call`` / ``function_call_output``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from backend.providers.base import Message, Role, ToolCall

from .llm_base import PromptError

_ROLES = {"system": Role.SYSTEM, "developer": Role.SYSTEM, "user": Role.USER}
_ROLES |= {"assistant": Role.ASSISTANT, "tool": Role.TOOL}


def as_text(value: Any) -> str:
    """A tool's output as the model reads it: text as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _tool_calls(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    calls = entry.get("tool_calls")
    if not isinstance(calls, list):
        return []
    return [call for call in calls if isinstance(call, Mapping)]


def _blocks(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    content = entry.get("content")
    if not isinstance(content, list):
        return []
    return [block for block in content if isinstance(block, Mapping)]


def requested_calls(entry: Mapping[str, Any]) -> list[str]:
    """The ids of the tool calls an entry asks for."""
    if entry.get("type") == "function_call":
        return [str(entry["call_id"])] if entry.get("call_id") else []
    if entry.get("role") != "assistant":
        return []
    ids = [str(call["id"]) for call in _tool_calls(entry) if call.get("id")]
    ids += [str(b["id"]) for b in _blocks(entry) if b.get("type") == "tool_use" and b.get("id")]
    return ids


def answered_calls(entry: Mapping[str, Any]) -> list[str]:
    """The ids of the tool calls an entry answers."""
    if entry.get("type") == "function_call_output":
        return [str(entry["call_id"])] if entry.get("call_id") else []
    if entry.get("role") == "tool":
        return [str(entry["tool_call_id"])] if entry.get("tool_call_id") else []
    if entry.get("role") != "user":
        return []
    return [
        str(b["tool_use_id"])
        for b in _blocks(entry)
        if b.get("type") == "tool_result" and b.get("tool_use_id")
    ]


def pending_calls(history: Iterable[Any]) -> list[str]:
    """Tool calls the history asks for and does not answer yet, oldest first.

    Counted per id, as AutoGPT does, so an id a provider reuses in a later turn is
    pending again until that turn is answered.
    """
    counts: Counter[str] = Counter()
    for entry in history:
        if isinstance(entry, Mapping):
            counts.update(requested_calls(entry))
            counts.subtract(answered_calls(entry))
    return [call_id for call_id, count in counts.items() if count > 0]


def tool_answer(call_id: str, output: Any) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": as_text(output)}


def assistant_turn(text: str, calls: Sequence[ToolCall]) -> dict[str, Any]:
    entry: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        entry["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in calls
        ]
    return entry


def to_messages(history: Sequence[Any]) -> list[Message]:
    """The history as provider-neutral messages; empty entries are skipped."""
    messages: list[Message] = []
    for entry in history:
        if not entry:
            continue
        if not isinstance(entry, Mapping):
            raise PromptError(f"a conversation entry must be an object: got {_shown(entry)}")
        messages.extend(_entry_messages(entry))
    return messages


def _entry_messages(entry: Mapping[str, Any]) -> list[Message]:
    kind = entry.get("type")
    if kind == "function_call":
        call = ToolCall(str(entry.get("call_id", "")), str(entry.get("name", "")), _args(entry))
        return [Message(Role.ASSISTANT, "", tool_calls=(call,))]
    if kind == "function_call_output":
        output = as_text(entry.get("output", ""))
        return [Message(Role.TOOL, output, tool_call_id=str(entry.get("call_id", "")))]
    role = _ROLES.get(str(entry.get("role")))
    if role is None:
        raise PromptError(
            f"a conversation entry needs a role of system, user, assistant or tool: "
            f"got {_shown(entry)}"
        )
    if role is Role.TOOL:
        text = _text(entry.get("content"))
        return [Message(Role.TOOL, text, tool_call_id=str(entry.get("tool_call_id", "")))]
    blocks = _blocks(entry)
    answers = [
        Message(Role.TOOL, _text(b.get("content")), tool_call_id=str(b.get("tool_use_id", "")))
        for b in blocks
        if b.get("type") == "tool_result"
    ]
    text = _text(entry.get("content"))
    calls = _calls(entry) if role is Role.ASSISTANT else ()
    if answers:
        return answers + ([Message(role, text)] if text else [])
    return [Message(role, text, tool_calls=calls)]


def _calls(entry: Mapping[str, Any]) -> tuple[ToolCall, ...]:
    calls = []
    for call in _tool_calls(entry):
        function = call.get("function")
        if isinstance(function, Mapping):
            calls.append(
                ToolCall(str(call.get("id", "")), str(function.get("name", "")), _args(function))
            )
    for block in _blocks(entry):
        if block.get("type") == "tool_use":
            arguments = json.dumps(block.get("input") or {}, default=str)
            calls.append(ToolCall(str(block.get("id", "")), str(block.get("name", "")), arguments))
    return tuple(calls)


def _args(holder: Mapping[str, Any]) -> str:
    arguments = holder.get("arguments", "")
    return arguments if isinstance(arguments, str) else json.dumps(arguments, default=str)


def _text(content: Any) -> str:
    """Text content, or the text blocks of a content list joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(b.get("text", ""))
            for b in content
            if isinstance(b, Mapping) and b.get("type") in ("text", "output_text", "input_text")
        )
    return as_text(content)


def _shown(value: Any) -> str:
    return json.dumps(value, default=str)[:80]
