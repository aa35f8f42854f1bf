"""The tools an Orchestrator node offers: one per node linked to its tool pins.

A block sink becomes a function named after the node's title or its block, with one
parameter per linked input pin, typed by the block's own input schema. A sub-agent sink
(an AgentExecutorBlock node) becomes a function named after the agent, with one text
parameter per linked input, described by the agent's input schema. Parameter names are
the pin names made safe for every provider; each tool remembers which pin each
parameter feeds. These follow AutoGPT's rules, so an agent's prompts that name tools
and parameters keep working.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from backend.providers.base import ToolCall, ToolSpec

from .base import ToolSink
from .llm_base import AnswerError
from .pin_names import DICT_SPLIT, LIST_SPLIT, OBJC_SPLIT, base_pin, link_tool_name

MAX_NAME = 64  # what OpenAI and Anthropic accept as a function name
MAX_REF_DEPTH = 8  # schema references resolved this deep; deeper ones become {}
# Input defaults never shown to the model: what locates a sub-agent, and secrets.
_HIDDEN_DEFAULTS = {"graph_id", "graph_version", "input_schema", "output_schema", "user_id"}
_SECRET_WORDS = ("credential", "password", "secret", "token", "api_key", "apikey")


class ToolCallError(AnswerError):
    """The model called a tool that is not offered, or with arguments that do not fit."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    sink_node_id: str
    fields: Mapping[str, str]  # parameter -> the sink pin it feeds
    preset: Mapping[str, Any] = field(default_factory=dict)  # the sink's other defaults

    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)

    def definition(self) -> dict[str, Any]:
        """The tool as an OpenAI function definition (what ``tool_functions`` shows)."""
        function = {"name": self.name, "description": self.description}
        return {"type": "function", "function": function | {"parameters": self.parameters}}


@dataclass(frozen=True)
class ChosenCall:
    call: ToolCall
    tool: Tool
    arguments: Mapping[str, Any]


def cleanup(name: str) -> str:
    """A name as a function or parameter name: letters, digits, ``_`` and ``-``, lowercase."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", name).lower()


def build_tools(sinks: Sequence[ToolSink]) -> list[Tool]:
    tools = [_agent_tool(s) if s.graph_input_schema is not None else _block_tool(s) for s in sinks]
    return _disambiguate(tools)


def _name(sink: ToolSink, own_name: str, fallback: str) -> str:
    """The node's title, else its block's or agent's name, else what the links recorded."""
    recorded = next((n for n, _ in sink.links if link_tool_name(n)), "")
    name = sink.customized_name or own_name or link_tool_name(recorded) or fallback
    return cleanup(name)[:MAX_NAME]


def _pins(sink: ToolSink) -> list[str]:
    return list(dict.fromkeys(pin for _, pin in sink.links))


def _block_tool(sink: ToolSink) -> Tool:
    schema = resolve_refs(sink.input_schema)
    known = schema.get("properties") or {}
    required_pins = set(schema.get("required") or ())
    properties: dict[str, Any] = {}
    fields: dict[str, str] = {}
    required: set[str] = set()
    for pin in _pins(sink):
        arg = cleanup(pin)
        fields[arg] = pin
        if base_pin(pin) != pin:
            properties[arg] = {"type": "string", "description": dynamic_pin_description(pin)}
        else:
            fallback = {"type": "string", "description": f"Value for {pin}"}
            properties[arg] = known.get(pin) or fallback
        if base_pin(pin) in required_pins:
            required.add(arg)
    parameters = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "required": sorted(required),
    }
    return Tool(
        _name(sink, sink.block_name, "tool"),
        sink.description,
        parameters,
        sink.node_id,
        fields,
        _preset(sink, set(fields.values())),
    )


def _agent_tool(sink: ToolSink) -> Tool:
    known = (sink.graph_input_schema or {}).get("properties") or {}
    properties: dict[str, Any] = {}
    fields: dict[str, str] = {}
    for pin in _pins(sink):
        arg = cleanup(pin)
        fields[arg] = pin
        found = known.get(pin)
        about: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        properties[arg] = {
            "type": "string",
            "description": about.get("description") or f"The {pin} of the tool",
            "default": json.dumps(about.get("default"), default=str),
        }
    parameters = {"type": "object", "properties": properties, "additionalProperties": False}
    return Tool(
        _name(sink, sink.graph_name, "agent"),
        sink.graph_description,
        parameters,
        sink.node_id,
        fields,
        _preset(sink, set(fields.values()) | _HIDDEN_DEFAULTS),
    )


def _preset(sink: ToolSink, hidden: set[str]) -> dict[str, Any]:
    return {
        key: value
        for key, value in sink.defaults.items()
        if key not in hidden
        and not key.startswith("_")
        and not any(word in key.lower() for word in _SECRET_WORDS)
    }


def dynamic_pin_description(pin: str) -> str:
    """What a dynamic pin sets, in words (AutoGPT's descriptions)."""
    base = base_pin(pin)
    for delim, words in (
        (DICT_SPLIT, "Dictionary field '{k}' for base field '{b}' ({b}['{k}'])"),
        (LIST_SPLIT, "List item {k} for base field '{b}' ({b}[{k}])"),
    ):
        if delim in pin:
            key = pin.split(delim)[1].split("_")[0]
            return words.format(k=key, b=base)
    if OBJC_SPLIT in pin:
        attr = pin.split(OBJC_SPLIT)[1]
        return f"Object attribute '{attr}' for base field '{base}' ({base}.{attr})"
    return f"Value for {pin}"


def _disambiguate(tools: list[Tool]) -> list[Tool]:
    """Give every tool its own name (Anthropic refuses two alike): repeated names get
    ``_1``, ``_2``..., and their descriptions the sink's preset defaults."""
    counts = Counter(tool.name for tool in tools)
    taken = set(counts)
    numbers: Counter[str] = Counter()
    named = []
    for tool in tools:
        if counts[tool.name] == 1:
            named.append(tool)
            continue
        while True:
            numbers[tool.name] += 1
            suffix = f"_{numbers[tool.name]}"
            candidate = tool.name[: MAX_NAME - len(suffix)] + suffix
            if candidate not in taken:
                break
        taken.add(candidate)
        description = tool.description
        if tool.preset:
            description = f"{description} [Pre-configured: {_summary(tool.preset)}]"
        named.append(replace(tool, name=candidate, description=description))
    return named


def _summary(preset: Mapping[str, Any]) -> str:
    parts = []
    for key, value in preset.items():
        shown = json.dumps(value, default=str)
        parts.append(f"{key}={shown[:80] + '...<truncated>' if len(shown) > 100 else shown}")
    return ", ".join(parts)


def resolve_refs(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` with its local ``$ref``s replaced by what they name (a tool's parameters
    travel without the ``$defs`` they would point into)."""
    defs = schema.get("$defs") or {}

    def walk(node: Any, depth: int) -> Any:
        if isinstance(node, Mapping):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                target = defs.get(ref.removeprefix("#/$defs/"))
                if depth >= MAX_REF_DEPTH or not isinstance(target, Mapping):
                    return {}
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return walk({**target, **rest}, depth + 1)
            return {k: walk(v, depth) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(item, depth) for item in node]
        return node

    resolved: dict[str, Any] = walk(schema, 0)
    return resolved


def check_calls(calls: Sequence[ToolCall], tools: Sequence[Tool]) -> list[ChosenCall]:
    """The model's calls matched to the tools offered; ``ToolCallError`` lists every call
    that names no offered tool, has arguments that are not a JSON object, misses a
    required parameter or adds an unknown one."""
    by_name = {tool.name: tool for tool in tools}
    chosen: list[ChosenCall] = []
    problems: list[str] = []
    for call in calls:
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError as exc:
            problems.append(f"Tool call '{call.name}' has invalid JSON arguments: {exc}")
            continue
        if not isinstance(arguments, dict):
            problems.append(f"Tool call '{call.name}' has arguments that are not a JSON object")
            continue
        # Like AutoGPT: with a single tool on offer, a misspelt name still means it.
        tool = by_name.get(call.name) or (tools[0] if len(tools) == 1 else None)
        if tool is None:
            problems.append(f"Tool call for '{call.name}' does not match any known tool.")
            continue
        if problem := _argument_problem(call.name, arguments, tool.parameters):
            problems.append(problem)
            continue
        chosen.append(ChosenCall(call, tool, arguments))
    if problems:
        raise ToolCallError("; ".join(problems))
    return chosen


def _argument_problem(name: str, arguments: dict[str, Any], parameters: dict[str, Any]) -> str:
    expected = set(parameters.get("properties") or ())
    required = set(parameters.get("required") or ())
    unknown = sorted(set(arguments) - expected)
    missing = sorted(required - set(arguments))
    if not unknown and not missing:
        return ""
    problem = f"Tool call '{name}' has parameter errors:"
    if unknown:
        problem += f" Unknown parameters: {unknown}."
    if missing:
        problem += f" Missing required parameters: {missing}."
    problem += f" Expected parameters: {sorted(expected)}."
    if required:
        problem += f" Required parameters: {sorted(required)}."
    return problem
