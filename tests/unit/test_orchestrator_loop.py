"""How an Orchestrator node loops: which of its executions wait and for what, what its
conversation entries mean, and which graphs validation accepts around it."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from backend.blocks.basic import StoreValueBlock
from backend.blocks.conversation import pending_calls, to_messages, tool_answer
from backend.blocks.llm_base import PromptError
from backend.blocks.orchestrator import OrchestratorBlock
from backend.blocks.pin_names import tool_pin
from backend.data.execution import NodeStatus
from backend.data.graph import Graph, Link, Node
from backend.data.validation import validate_graph
from backend.executor.engine import RunState
from backend.providers.base import Message, Role, ToolCall
from tests.graphs import calculator_agent

BLOCK = OrchestratorBlock()


def link(source: str, source_pin: str, sink: str, sink_pin: str, static: bool = False) -> Link:
    return Link(
        source_id=source, source_name=source_pin, sink_id=sink, sink_name=sink_pin, is_static=static
    )


def openai_call(call_id: str, name: str = "calculatorblock") -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}
        ],
    }


# -- conversations -----------------------------------------------------------------------------


def test_pending_calls_in_each_shape_autogpt_stores() -> None:
    anthropic_call = {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1"},
        ],
    }
    anthropic_answer = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "found"}],
    }
    responses_call = {"type": "function_call", "call_id": "fc_1", "name": "x", "arguments": "{}"}
    responses_answer = {"type": "function_call_output", "call_id": "fc_1", "output": "ok"}

    assert pending_calls([openai_call("call_1"), openai_call("call_2")]) == ["call_1", "call_2"]
    assert pending_calls([openai_call("call_1"), tool_answer("call_1", 4)]) == []
    assert pending_calls([anthropic_call]) == ["toolu_1"]
    assert pending_calls([anthropic_call, anthropic_answer]) == []
    assert pending_calls([responses_call]) == ["fc_1"]
    assert pending_calls([responses_call, responses_answer]) == []
    # A provider that reuses an id in a later turn: pending again until answered again.
    answered = [openai_call("call_0"), tool_answer("call_0", 1)]
    assert pending_calls([*answered, openai_call("call_0")]) == ["call_0"]


def test_histories_become_provider_neutral_messages() -> None:
    history = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Add 2 and 3."},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Adding."},
                {"type": "tool_use", "id": "toolu_1", "name": "add", "input": {"a": 2}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "5"}],
        },
        openai_call("call_1", "store"),
        tool_answer("call_1", {"stored": True}),
        {},  # empty entries are skipped, as AutoGPT does
    ]

    assert to_messages(history) == [
        Message(Role.SYSTEM, "Be brief."),
        Message(Role.USER, "Add 2 and 3."),
        Message(Role.ASSISTANT, "Adding.", tool_calls=(ToolCall("toolu_1", "add", '{"a": 2}'),)),
        Message(Role.TOOL, "5", tool_call_id="toolu_1"),
        Message(Role.ASSISTANT, "", tool_calls=(ToolCall("call_1", "store", "{}"),)),
        Message(Role.TOOL, '{"stored": true}', tool_call_id="call_1"),
    ]


KEYS = ["role", "content", "tool_calls", "id", "type", "call_id", "tool_use_id", "function"]
WORDS = ["assistant", "user", "tool", "tool_use", "tool_result", "function_call", "text"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from(WORDS),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=16,
)


@given(st.lists(json_values, max_size=5), json_values)
@example([{"role": "assistant", "tool_calls": 5}, {"role": "assistant", "tool_calls": [3]}], 1)
def test_any_history_is_read_or_refused_but_never_breaks_the_engine(
    history: list[Any], output: Any
) -> None:
    # The engine asks waits_for about whatever a graph author put in the pins.
    BLOCK.waits_for({"conversation_history": history, "last_tool_output": output})
    BLOCK.waits_for({"conversation_history": output})
    with contextlib.suppress(PromptError):
        to_messages(history)


def test_an_entry_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(PromptError, match="a conversation entry must be an object"):
        to_messages(["hello"])


# -- when an execution may start ---------------------------------------------------------------


def test_an_output_waits_for_its_call_and_a_call_for_its_output() -> None:
    asked = {"conversation_history": [openai_call("call_1")], "last_tool_output": None}
    assert BLOCK.waits_for(asked) == {"last_tool_output"}
    assert BLOCK.waits_for({"conversation_history": [], "last_tool_output": 42}) == {
        "conversation_history"
    }
    assert BLOCK.waits_for({**asked, "last_tool_output": 42}) == set()
    assert BLOCK.waits_for({"prompt": "first round"}) == set()


def test_the_engine_starts_the_first_round_and_holds_the_next_for_the_tool() -> None:
    state = RunState("run", calculator_agent(conversation_history=[], last_tool_output=None))
    [start] = state.start({"question": "six times seven"}, 0.0)
    state.mark_running(start, 0.0)
    state.complete(start, [("result", "six times seven")], 0.0)

    [first] = state.take_ready(10)
    assert first.node_id == "o"  # its history and tool output links did not hold it
    state.mark_running(first, 1.0)
    conversation = [{"role": "user", "content": "go"}, openai_call("call_1")]
    arguments = [
        (tool_pin("calc", pin), v) for pin, v in (("a", 6), ("b", 7), ("operation", "Multiply"))
    ]
    state.complete(first, [*arguments, ("conversations", conversation)], 1.0)

    [calc] = state.take_ready(10)
    assert calc.node_id == "calc"
    picked = {pin: calc.input_data[pin] for pin in ("a", "b", "operation")}
    assert picked == {"a": 6, "b": 7, "operation": "Multiply"}
    [second] = state.with_status(NodeStatus.INCOMPLETE)
    assert second.node_id == "o"
    # It waits with only what arrived: its history (and the static prompt value).
    assert set(second.input_data) == {"conversation_history", "prompt_values_#_question"}

    state.mark_running(calc, 2.0)
    state.complete(calc, [("result", 42.0)], 2.0)
    [ready] = state.take_ready(10)
    assert ready is second and ready.status is NodeStatus.QUEUED
    assert ready.input_data["last_tool_output"] == 42.0
    assert ready.input_data["conversation_history"] == conversation
    assert ready.input_data["prompt_values"] == {"question": "six times seven"}


def test_a_tool_output_before_its_conversation_waits_for_it() -> None:
    state = RunState("run", calculator_agent())
    [start] = state.start({"question": "x"}, 0.0)
    state.mark_running(start, 0.0)
    state.complete(start, [("result", "x")], 0.0)
    [first] = state.take_ready(10)
    state.mark_running(first, 0.0)
    calc_args = [(tool_pin("calc", p), v) for p, v in (("a", 1), ("b", 2), ("operation", "Add"))]
    state.complete(first, calc_args, 0.0)  # the conversation is held back
    [calc] = state.take_ready(10)
    state.mark_running(calc, 0.0)
    state.complete(calc, [("result", 3.0)], 0.0)

    [waiting] = state.with_status(NodeStatus.INCOMPLETE)
    assert set(waiting.input_data) == {"last_tool_output", "prompt_values_#_question"}
    assert state.take_ready(10) == []


# -- validation -------------------------------------------------------------------------------


def errors_of(graph: Graph) -> list[str]:
    return [str(e) for e in validate_graph(graph, for_run=True)]


def test_the_loop_graph_validates() -> None:
    assert errors_of(calculator_agent()) == []


def test_only_tool_calling_blocks_take_tool_links_and_only_autogpts_names() -> None:
    graph = calculator_agent()
    graph.nodes.append(Node(id="s", block_id=StoreValueBlock.id, input_default={"input": 1}))
    graph.links += [
        link("s", "tools_^_calculatorblock_~_a", "calc", "a"),
        link("o", "tools_^_calculatorblock", "calc", "b"),
    ]

    problems = errors_of(graph)

    assert len(problems) == 2
    assert "StoreValueBlock has no output pin 'tools_^_calculatorblock_~_a'" in problems[0]
    assert "OrchestratorBlock has no output pin 'tools_^_calculatorblock'" in problems[1]


def test_the_loop_needs_both_links_and_no_static_tool_output() -> None:
    one_sided = calculator_agent()
    one_sided.links = [li for li in one_sided.links if li.sink_name != "conversation_history"]
    assert errors_of(one_sided) == [
        "node o: link both conversation_history and last_tool_output, or neither: the loop "
        "needs both"
    ]

    static = calculator_agent()
    static.nodes.append(Node(id="s", block_id=StoreValueBlock.id, input_default={"input": 1}))
    static.links.append(link("s", "output", "o", "last_tool_output"))  # static: a StoreValue
    [problem] = errors_of(static)
    assert "last_tool_output cannot come through a static link" in problem


def test_agent_mode_and_other_execution_modes_are_refused_up_front() -> None:
    problems = errors_of(
        calculator_agent(agent_mode_max_iterations=5, execution_mode="extended_thinking")
    )
    assert len(problems) == 2
    assert "agent mode (tools run inside this node) is not supported" in problems[0]
    assert "execution mode 'extended_thinking' is not supported" in problems[1]
