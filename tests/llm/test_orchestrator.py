"""The Orchestrator block end to end: block -> provider -> real SDK -> scripted server.

Two tools are linked: a CalculatorBlock node ``calc`` (pins a, b, operation) and a
StoreValueBlock node ``store`` (pin input).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from backend.blocks.basic import StoreValueBlock
from backend.blocks.maths import CalculatorBlock
from backend.blocks.orchestrator import OBJECTIVE, OrchestratorBlock
from backend.blocks.pin_names import tool_pin
from backend.data.graph import Graph, Link, Node
from backend.executor.tools import linked_tools
from backend.providers.llm import LLMClient
from tests.llm.conftest import node_context, run_block
from tests.llm_server import Answer, LLMServer, Raw

BLOCK = OrchestratorBlock()
MULTIPLY = {"a": 6, "b": 7, "operation": "Multiply"}
CLAUDE = "claude-sonnet-4-5-20250929"


def tools_graph() -> Graph:
    nodes = [
        Node(id="o", block_id=OrchestratorBlock.id),
        Node(id="calc", block_id=CalculatorBlock.id),
        Node(id="store", block_id=StoreValueBlock.id),
    ]
    pins = [("calc", "a"), ("calc", "b"), ("calc", "operation"), ("store", "input")]
    links = [
        Link(source_id="o", source_name="tools", sink_id=sink, sink_name=pin) for sink, pin in pins
    ]
    return Graph(nodes=nodes, links=links)


def run(llm: LLMClient, data: dict[str, Any], provider: str = "openai") -> list[tuple[str, Any]]:
    tools = linked_tools(tools_graph(), "o")
    return run_block(BLOCK, data, node_context(llm, provider, node_id="o", tools=tools))


def without_tool_functions(outputs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    assert outputs[0][0] == "tool_functions"
    offered = [t["function"]["name"] for t in json.loads(outputs[0][1])]
    assert offered == ["calculatorblock", "storevalueblock"]
    return outputs[1:]


def calc_pins(arguments: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(tool_pin("calc", pin), arguments[pin]) for pin in ("a", "b", "operation")]


def called(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    function = {"name": name, "arguments": json.dumps(arguments)}
    return {"id": call_id, "type": "function", "function": function}


def test_a_chosen_tool_gets_its_arguments_on_its_pins(
    llm: LLMClient, llm_server: LLMServer
) -> None:
    llm_server.script(Answer(tool_calls=(("calculatorblock", MULTIPLY),), input_tokens=120))
    data = {
        "model": "gpt-4o",
        "prompt": "What is {{ task }}?",
        "sys_prompt": "Use the tools.",
        "prompt_values": {"task": "six times seven"},
    }

    outputs = without_tool_functions(run(llm, data))

    opening = [
        {"role": "system", "content": f"{OBJECTIVE}Use the tools."},
        {"role": "user", "content": f"{OBJECTIVE}What is six times seven?"},
    ]
    calls = [called("call_0", "calculatorblock", MULTIPLY)]
    turn = {"role": "assistant", "content": "", "tool_calls": calls}
    assert outputs == [*calc_pins(MULTIPLY), ("conversations", [*opening, turn])]
    [sent] = llm_server.requests
    assert sent.messages == opening
    assert sent.body["parallel_tool_calls"] is False
    [calc_tool, store_tool] = sent.body["tools"]
    assert calc_tool["function"]["name"] == "calculatorblock"
    assert calc_tool["function"]["parameters"]["required"] == ["a", "b", "operation"]
    assert store_tool["function"]["parameters"]["required"] == ["input"]


def test_anthropic_tool_calls_and_the_next_round(llm: LLMClient, llm_server: LLMServer) -> None:
    llm_server.script(
        Answer("I will multiply.", tool_calls=(("calculatorblock", MULTIPLY),)),
        Answer("Six times seven is 42."),
    )
    data = {"model": CLAUDE, "prompt": "What is six times seven?", "sys_prompt": "Use tools."}

    first = without_tool_functions(run(llm, data, "anthropic"))

    assert first[:3] == calc_pins(MULTIPLY)
    pin, conversation = first[3]
    assert pin == "conversations"
    assert conversation[-1]["tool_calls"] == [called("toolu_0", "calculatorblock", MULTIPLY)]
    asked = llm_server.requests[0].body
    assert asked["system"] == f"{OBJECTIVE}Use tools."
    assert [t["name"] for t in asked["tools"]] == ["calculatorblock", "storevalueblock"]
    assert asked["tools"][0]["input_schema"]["required"] == ["a", "b", "operation"]
    assert asked["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}

    # The next execution: its own conversation back, and the calculator's result.
    again = {**data, "conversation_history": conversation, "last_tool_output": 42.0}
    second = run(llm, again, "anthropic")

    assert without_tool_functions(second) == [("finished", "Six times seven is 42.")]
    answered = llm_server.requests[1].body["messages"]
    assert answered[-1] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_0", "content": "42.0"}],
    }
    assert answered[-2]["content"][-1]["type"] == "tool_use"
    assert len(answered) == 3  # the prompt is not added a second time


def test_no_tool_call_finishes(llm: LLMClient, llm_server: LLMServer) -> None:
    llm_server.script(Answer("Nothing to do: it is 42."))

    outputs = run(llm, {"prompt": "What is six times seven?"})

    assert without_tool_functions(outputs) == [("finished", "Nothing to do: it is 42.")]


def test_several_calls_in_one_answer_are_answered_one_output_at_a_time(
    llm: LLMClient, llm_server: LLMServer
) -> None:
    llm_server.script(
        Answer(tool_calls=(("calculatorblock", MULTIPLY), ("storevalueblock", {"input": "note"}))),
        Answer("Done: 42, and the note is stored."),
    )
    data = {"prompt": "Multiply and store.", "multiple_tool_calls": True}

    first = without_tool_functions(run(llm, data))

    assert first[:4] == [*calc_pins(MULTIPLY), (tool_pin("store", "input"), "note")]
    history = first[4][1]
    assert [c["id"] for c in history[-1]["tool_calls"]] == ["call_0", "call_1"]
    assert llm_server.requests[0].body["parallel_tool_calls"] is True

    # The first output answers the first call; with one still open, no model call yet.
    second = without_tool_functions(
        run(llm, {**data, "conversation_history": history, "last_tool_output": 42.0})
    )
    [(pin, history)] = second
    assert pin == "conversations"
    assert history[-1] == {"role": "tool", "tool_call_id": "call_0", "content": "42.0"}
    assert len(llm_server.requests) == 1

    third = run(llm, {**data, "conversation_history": history, "last_tool_output": "note"})

    assert without_tool_functions(third) == [("finished", "Done: 42, and the note is stored.")]
    tool_turns = [m for m in llm_server.requests[1].messages if m["role"] == "tool"]
    assert tool_turns == [
        {"role": "tool", "tool_call_id": "call_0", "content": "42.0"},
        {"role": "tool", "tool_call_id": "call_1", "content": "note"},
    ]


def test_an_unknown_tool_is_shown_to_the_model_and_asked_again(
    llm: LLMClient, llm_server: LLMServer
) -> None:
    llm_server.script(
        Answer(tool_calls=(("divide_numbers", {"x": 1}),)),
        Answer(tool_calls=(("storevalueblock", {"input": "kept"}),)),
    )
    outputs = without_tool_functions(run(llm, {"prompt": "Keep this."}))

    assert outputs[0] == (tool_pin("store", "input"), "kept")
    first, second = llm_server.requests
    feedback = second.messages[-1]
    assert second.messages[:-1] == first.messages  # the wrong call itself is not sent back
    assert feedback["role"] == "user"
    assert "Tool call for 'divide_numbers' does not match any known tool." in feedback["content"]


def openai_raw_call(arguments: str) -> Raw:
    function = {"name": "calculatorblock", "arguments": arguments}
    call = {"id": "call_9", "type": "function", "function": function}
    body = {
        "id": "chatcmpl-raw",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }
    return Raw(json.dumps(body).encode())


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (openai_raw_call('{"a": 6, "b": '), "'calculatorblock' has invalid JSON arguments"),
        (
            Answer(tool_calls=(("calculatorblock", {"a": 6, "c": 1}),)),
            "Tool call 'calculatorblock' has parameter errors: Unknown parameters: ['c']. "
            "Missing required parameters: ['b', 'operation'].",
        ),
    ],
)
def test_calls_that_never_fit_fail_the_node_after_the_retries(
    reply: Answer | Raw, problem: str, llm: LLMClient, llm_server: LLMServer
) -> None:
    llm_server.default = reply
    data = {"prompt": "Multiply.", "retry": 2}
    tools = linked_tools(tools_graph(), "o")
    ctx = node_context(llm, node_id="o", tools=tools)

    outputs = run_block(BLOCK, data, ctx)

    assert [pin for pin, _ in outputs] == ["tool_functions", "error"]
    assert problem in outputs[1][1]
    assert len(llm_server.requests) == 2
    assert ctx.stats["llm_calls"] == 2  # every attempt is a paid call, and counted
