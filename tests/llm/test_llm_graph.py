"""An LLM node inside a real run: agent input -> text generator -> agent output."""

from __future__ import annotations

import asyncio

import pytest

from backend.blocks.basic import AgentInputBlock, AgentOutputBlock
from backend.blocks.llm import AITextGeneratorBlock
from backend.data.execution import RunStatus
from backend.data.graph import Graph, Link, Node
from backend.executor.local import LocalResult, run_local
from backend.executor.metrics import REGISTRY
from backend.providers import llm as llm_module
from tests.llm.conftest import Waits, client_for
from tests.llm_server import Answer, LLMServer, Status


def story_graph(model: str) -> Graph:
    nodes = [
        Node(id="in", block_id=AgentInputBlock.id, input_default={"name": "topic"}),
        Node(
            id="llm",
            block_id=AITextGeneratorBlock.id,
            input_default={"model": model, "prompt": "Tell me about {{ topic }}."},
        ),
        Node(id="out", block_id=AgentOutputBlock.id, input_default={"name": "answer"}),
    ]
    links = [
        Link(
            source_id="in", source_name="result", sink_id="llm", sink_name="prompt_values_#_topic"
        ),
        Link(source_id="llm", source_name="response", sink_id="out", sink_name="value"),
    ]
    return Graph(name="story", nodes=nodes, links=links)


def tokens_counted(provider: str) -> dict[str, float]:
    """The executor metric's tokens of ``provider`` in this process, by direction."""
    counted = {"input": 0.0, "output": 0.0}
    for family in REGISTRY.collect():
        for sample in family.samples:
            name, labels = sample.name, sample.labels
            if name == "agent_server_executor_llm_tokens_total" and labels["provider"] == provider:
                counted[labels["direction"]] += sample.value
    return counted


def run_story(
    model: str, llm_server: LLMServer, waits: Waits, monkeypatch: pytest.MonkeyPatch
) -> LocalResult:
    client = client_for(llm_server, waits)
    monkeypatch.setattr(llm_module, "_default", client)  # what the executor's nodes use

    async def main() -> LocalResult:
        try:
            return await run_local(story_graph(model), {"topic": "cats"})
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_an_ollama_node_runs_in_a_graph(
    llm_server: LLMServer, waits: Waits, clean_env: pytest.MonkeyPatch
) -> None:
    llm_server.script(Answer("Cats purr."))
    before = tokens_counted("ollama")

    result = run_story("llama3.2", llm_server, waits, clean_env)

    assert result.run.status is RunStatus.COMPLETED
    assert result.run.outputs == {"answer": ["Cats purr."]}
    # The tokens the provider reported are counted for the metrics, by direction.
    [node] = [ne for ne in result.executions if ne.node_id == "llm"]
    after = tokens_counted("ollama")
    assert node.stats["input_tokens"] > 0 and node.stats["output_tokens"] > 0
    assert after["input"] - before["input"] == node.stats["input_tokens"]
    assert after["output"] - before["output"] == node.stats["output_tokens"]
    [sent] = llm_server.requests
    assert sent.messages == [{"role": "user", "content": "Tell me about cats."}]


def test_a_failing_llm_node_fails_the_run_with_the_providers_reason(
    llm_server: LLMServer, waits: Waits, clean_env: pytest.MonkeyPatch
) -> None:
    llm_server.default = Status(404, "model 'llama3.2' not found, try pulling it first")

    result = run_story("llama3.2", llm_server, waits, clean_env)

    assert result.run.status is RunStatus.FAILED
    assert result.run.error is not None
    assert "ollama answered HTTP 404 (not found: check the model name and base URL)" in (
        result.run.error
    )
    assert "try pulling it first" in result.run.error
