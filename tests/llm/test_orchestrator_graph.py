"""An Orchestrator looping inside a real local run: it calls a CalculatorBlock twice
through its tool links, gets each result back on last_tool_output, then finishes."""

from __future__ import annotations

import asyncio

import pytest

from backend.data.execution import NodeStatus, RunStatus
from backend.executor.local import LocalResult, run_local
from backend.providers import llm as llm_module
from tests.graphs import calculator_agent, shared_pool
from tests.llm.conftest import Waits, client_for
from tests.llm_server import Answer, LLMServer

ORCHESTRATOR = {
    "model": "llama3.2",
    "sys_prompt": "Use the calculator for every step.",
    "conversation_history": [],
    "last_tool_output": None,
}


def run(llm_server: LLMServer, waits: Waits, monkeypatch: pytest.MonkeyPatch) -> LocalResult:
    client = client_for(llm_server, waits)
    monkeypatch.setattr(llm_module, "_default", client)  # what the executor's nodes use

    async def main() -> LocalResult:
        try:
            question = {"question": "(6 * 7) + 8"}
            return await run_local(calculator_agent(**ORCHESTRATOR), question, pool=shared_pool())
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_the_orchestrator_loops_through_its_tool_until_it_answers(
    llm_server: LLMServer, waits: Waits, clean_env: pytest.MonkeyPatch
) -> None:
    llm_server.script(
        Answer(tool_calls=(("calculatorblock", {"a": 6, "b": 7, "operation": "Multiply"}),)),
        Answer(tool_calls=(("calculatorblock", {"a": 42, "b": 8, "operation": "Add"}),)),
        Answer("(6 * 7) + 8 is 50."),
    )

    result = run(llm_server, waits, clean_env)

    assert result.run.status is RunStatus.COMPLETED, result.run.error
    assert result.run.outputs == {"answer": ["(6 * 7) + 8 is 50."]}
    by_node: dict[str, list[object]] = {}
    for ne in result.executions:
        assert ne.status is NodeStatus.COMPLETED, (ne.node_id, ne.status)
        by_node.setdefault(ne.node_id, []).append(ne)
    assert {node: len(runs) for node, runs in by_node.items()} == {
        "in": 1,
        "o": 3,
        "calc": 2,
        "out": 1,
    }
    assert [ne.output_data for ne in result.executions if ne.node_id == "calc"] == [
        [("result", 42.0)],
        [("result", 50.0)],
    ]
    first, second, third = llm_server.requests
    assert first.messages[-1]["content"].endswith("Answer with the calculator: (6 * 7) + 8")
    assert second.messages[-1] == {"role": "tool", "tool_call_id": "call_0", "content": "42.0"}
    assert third.messages[-1] == {"role": "tool", "tool_call_id": "call_0", "content": "50.0"}
    # Each round sends the whole conversation again: the prompt only grows.
    assert len(first.messages) < len(second.messages) < len(third.messages) == 6
    assert all(ne.stats["llm_calls"] == 1 for ne in result.executions if ne.node_id == "o")


def test_a_tool_that_fails_ends_the_run_failed_without_a_last_round(
    llm_server: LLMServer, waits: Waits, clean_env: pytest.MonkeyPatch
) -> None:
    # "Divide" by a text: the calculator's input does not validate, so it fails.
    llm_server.script(
        Answer(tool_calls=(("calculatorblock", {"a": 1, "b": "zero", "operation": "Divide"}),))
    )

    result = run(llm_server, waits, clean_env)

    assert result.run.status is RunStatus.FAILED
    assert result.run.error is not None and "node calc (CalculatorBlock) failed" in result.run.error
    assert len(llm_server.requests) == 1
    waiting = [ne for ne in result.executions if ne.status is NodeStatus.TERMINATED]
    assert [ne.node_id for ne in waiting] == ["o"]  # the round that waited for the tool
