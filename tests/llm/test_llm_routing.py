"""Which model, provider, credential and host an LLM node ends up with."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from backend.blocks.base import BlockInputError
from backend.blocks.llm import AIConversationBlock, AITextGeneratorBlock, AITextSummarizerBlock
from backend.data.graph import Graph, Node
from backend.data.validation import validate_graph
from backend.providers import llm as llm_module
from backend.providers.llm import LLMClient
from tests.llm.conftest import Waits, client_for, node_context, run_block
from tests.llm_server import OPENAI_PATH, LLMServer


def test_unknown_model_is_a_validation_error_listing_known_ones(llm: LLMClient) -> None:
    with pytest.raises(BlockInputError) as caught:
        run_block(AITextGeneratorBlock(), {"prompt": "x", "model": "gpt-9"}, node_context(llm))

    message = str(caught.value)
    assert "model: Value error, unknown model 'gpt-9'; known models: " in message
    assert "claude-sonnet-4-5-20250929, " in message and "gpt-4o, " in message


def test_graph_validation_refuses_an_unknown_model_at_submit() -> None:
    node = Node(
        id="llm", block_id=AITextGeneratorBlock.id, input_default={"prompt": "x", "model": "gpt-9"}
    )

    [error] = validate_graph(Graph(name="g", nodes=[node], links=[]))

    assert (error.node_id, error.pin) == ("llm", "model")
    assert "unknown model 'gpt-9'; known models: " in error.message


@pytest.mark.parametrize(
    ("model", "needed"),
    [
        ("gpt-5-2025-08-07", {"credentials": "openai"}),
        ("claude-sonnet-4-20250514", {"credentials": "anthropic"}),
        ("perplexity/sonar-deep-research", {"credentials": "open_router"}),
        ("llama3.2", {}),
        ("gpt-9", {}),
    ],
)
def test_the_model_decides_the_credential_a_node_needs(model: str, needed: dict[str, str]) -> None:
    for block in (AITextGeneratorBlock(), AIConversationBlock(), AITextSummarizerBlock()):
        assert block.required_credentials({"model": model}) == needed
    assert AITextGeneratorBlock().required_credentials({}) == {"credentials": "openai"}


def test_a_node_without_its_credential_fails_clearly(llm: LLMClient, llm_server: LLMServer) -> None:
    data = {"prompt": "x", "model": "claude-sonnet-4-20250514"}

    [(pin, message)] = run_block(AITextGeneratorBlock(), data, node_context(llm, provider=None))

    assert pin == "error"
    assert message.startswith(
        "model claude-sonnet-4-20250514 needs an API key for provider anthropic"
    )
    assert llm_server.requests == []


# -- Ollama and operator routing --------------------------------------------------------


@pytest.fixture
def routed(
    llm_server: LLMServer, waits: Waits, clean_env: pytest.MonkeyPatch
) -> Iterator[LLMClient]:
    """A client whose settings send gpt-4o, and every unknown name, to a local model."""
    client = client_for(
        llm_server,
        waits,
        llm_model_aliases=json.dumps({"gpt-4o": "qwen2.5:7b", "*": "llama3.2"}),
        llm_extra_models=json.dumps(
            {"qwen2.5:7b": {"provider": "ollama", "context_window": 32768}}
        ),
    )
    clean_env.setattr(llm_module, "_default", client)  # the pins validate against it too
    yield client


@pytest.mark.parametrize(
    ("model", "sent"), [("gpt-4o", "qwen2.5:7b"), ("o1", "llama3.2"), ("made-up", "llama3.2")]
)
def test_aliases_route_models_to_ollama(
    routed: LLMClient, llm_server: LLMServer, model: str, sent: str
) -> None:
    ctx = node_context(routed, provider=None)

    outputs = run_block(AITextGeneratorBlock(), {"prompt": "hi", "model": model}, ctx)

    assert outputs[0] == ("response", "scripted default answer")
    [request] = llm_server.requests
    assert (request.path, request.body["model"]) == (OPENAI_PATH, sent)
    assert request.headers["authorization"] == "Bearer ollama"
    assert ctx.stats["provider"] == "ollama" and ctx.stats["model"] == sent
    assert AITextGeneratorBlock().required_credentials({"model": model}) == {}


def test_a_node_chosen_ollama_host_needs_private_network_access(
    llm_server: LLMServer, waits: Waits, clean_env: pytest.MonkeyPatch
) -> None:
    llm = client_for(llm_server, waits, ollama_host="127.0.0.1:9")  # the operator's: not used
    data = {"prompt": "hi", "model": "llama3.2", "ollama_host": llm_server.url}

    [(pin, message)] = run_block(AITextGeneratorBlock(), data, node_context(llm, provider=None))
    assert pin == "error" and "BACKEND_ALLOW_PRIVATE_NETWORK" in message
    assert llm_server.requests == []

    ctx = node_context(llm, provider=None, allow_private_network=True)
    assert run_block(AITextGeneratorBlock(), data, ctx)[0] == (
        "response",
        "scripted default answer",
    )
    assert len(llm_server.requests) == 1

    # Only Ollama models go to an Ollama host: for others the pin means nothing.
    data["model"] = "gpt-4o"
    outputs = run_block(AITextGeneratorBlock(), data, node_context(llm))
    assert outputs[0] == ("response", "scripted default answer")
