"""The provider layer over real HTTP: both SDKs against the scripted server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from typing import Any

import pytest

from backend.errors import ProviderError
from backend.providers.base import CompletionResponse, Message, Role, ToolCall, ToolSpec
from backend.providers.llm import LLMClient
from tests.llm.conftest import SECRET, Waits, client_for, credential, drive
from tests.llm_server import ANTHROPIC_PATH, OPENAI_PATH, Answer, Hold, LLMServer, Raw, Slow, Status

HELLO = (Message(Role.SYSTEM, "Be brief."), Message(Role.USER, "Say hello."))


def complete(
    llm: LLMClient,
    model: str = "gpt-4o",
    messages: tuple[Message, ...] = HELLO,
    provider: str | None = "openai",
    **options: Any,
) -> CompletionResponse:
    info = llm.models.resolve(model)
    creds = credential(provider) if provider else None
    return drive(llm, llm.complete(info, messages, credentials=creds, **options))


def failure(llm: LLMClient, model: str = "gpt-4o", **options: Any) -> str:
    provider = llm.models.resolve(model).provider
    with pytest.raises(ProviderError) as caught:
        complete(llm, model, provider=provider, **options)
    return caught.value.message


# -- the two wire protocols ------------------------------------------------------------


def test_openai_request_and_answer(llm: LLMClient, llm_server: LLMServer) -> None:
    llm_server.script(Answer("Hello!", input_tokens=12, output_tokens=3))

    response = complete(llm, "gpt-4o", json_mode=True, max_tokens=50)

    assert (response.text, response.provider, response.model) == ("Hello!", "openai", "gpt-4o")
    assert (response.input_tokens, response.output_tokens) == (12, 3)
    assert response.latency_seconds > 0
    [sent] = llm_server.requests
    assert sent.path == OPENAI_PATH
    assert sent.headers["authorization"] == f"Bearer {SECRET}"
    assert sent.body["model"] == "gpt-4o"
    assert sent.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello."},
    ]
    assert sent.body["max_completion_tokens"] == 50
    assert "max_tokens" not in sent.body
    assert sent.body["response_format"] == {"type": "json_object"}


def test_anthropic_request_and_answer(llm: LLMClient, llm_server: LLMServer) -> None:
    llm_server.script(Answer("Hi there", input_tokens=20, output_tokens=4))
    history = (
        Message(Role.SYSTEM, "Be brief."),
        Message(Role.USER, "Say hello."),
        Message(Role.SYSTEM, "In English."),
        Message(Role.USER, "Please."),
    )

    response = complete(llm, "claude-sonnet-4-5-20250929", history, provider="anthropic")

    assert (response.text, response.provider) == ("Hi there", "anthropic")
    assert (response.input_tokens, response.output_tokens) == (20, 4)
    [sent] = llm_server.requests
    assert sent.path == ANTHROPIC_PATH
    # The SDK sends the key as x-api-key or, in newer releases, as a bearer token.
    sent_key = sent.headers.get("x-api-key") or sent.headers["authorization"].split()[-1]
    assert sent_key == SECRET
    assert sent.headers["anthropic-version"]
    assert sent.body["system"] == "Be brief.\n\nIn English."
    # Turns of one role are merged: the API wants user and assistant to alternate.
    assert sent.messages == [
        {"role": "user", "content": [{"type": "text", "text": "Say hello.\n\nPlease."}]}
    ]
    # Nothing asked: the model's output limit, as AutoGPT sends it.
    assert sent.body["max_tokens"] == 64_000


def test_o1_mini_gets_no_system_turn_and_no_json_mode(
    llm: LLMClient, llm_server: LLMServer
) -> None:
    complete(llm, "o1-mini", json_mode=True)

    [sent] = llm_server.requests
    assert [m["role"] for m in sent.messages] == ["user", "user"]
    assert "response_format" not in sent.body
    assert "max_completion_tokens" in sent.body


def test_openrouter_and_ollama_take_max_tokens(llm: LLMClient, llm_server: LLMServer) -> None:
    complete(llm, "perplexity/sonar-pro", provider="open_router", json_mode=True)
    complete(llm, "llama3.2", provider=None, json_mode=True)

    router, ollama = llm_server.requests
    assert router.body["model"] == "perplexity/sonar-pro"
    assert router.body["max_tokens"] == 8_000  # the model's output limit
    assert "response_format" not in router.body  # AutoGPT asks OpenRouter for none
    assert ollama.path == OPENAI_PATH  # Ollama's OpenAI-compatible /v1
    assert ollama.headers["authorization"] == "Bearer ollama"  # no key needed
    assert ollama.body["response_format"] == {"type": "json_object"}
    # No output limit in the table: what the context window leaves after the prompt.
    assert ollama.body["max_tokens"] < 8_192


def test_output_budget_is_the_smallest_limit(llm: LLMClient, llm_server: LLMServer) -> None:
    long_prompt = (Message(Role.USER, "word " * 30_000),)  # about 37,500 tokens
    complete(llm, "gpt-3.5-turbo", (Message(Role.USER, "hi"),), max_tokens=100_000)
    with pytest.raises(ProviderError, match="does not fit the 16385-token context window"):
        complete(llm, "gpt-3.5-turbo", long_prompt)

    [sent] = llm_server.requests
    assert sent.body["max_completion_tokens"] == 4_096


# -- retries, timeouts and the time budget ---------------------------------------------


def test_429_with_retry_after_then_success(
    llm: LLMClient, llm_server: LLMServer, waits: Waits
) -> None:
    llm_server.script(
        Status(429, "slow down", {"Retry-After": "1.5"}),
        Status(429, "slow down", {"retry-after-ms": "250"}),
        Answer("finally"),
    )

    assert complete(llm).text == "finally"

    assert len(llm_server.requests) == 3
    assert waits == [1.5, 0.25]  # the server's own waits, not our backoff


def test_server_errors_exhaust_the_retries(
    llm: LLMClient, llm_server: LLMServer, waits: Waits
) -> None:
    llm_server.default = Status(500, "the backend fell over")

    message = failure(llm, "claude-sonnet-4-20250514")

    assert message == (
        "anthropic answered HTTP 500 (server error; gave up after 3 attempts): "
        "the backend fell over"
    )
    assert len(llm_server.requests) == 3
    # Exponential backoff from 0.5 s, half of it jittered (the test's jitter is 0.5).
    assert waits == [0.375, 0.75]


def test_a_wait_past_the_deadline_is_not_started(
    llm: LLMClient, llm_server: LLMServer, waits: Waits
) -> None:
    llm_server.script(Status(429, "slow down", {"Retry-After": "30"}))

    message = failure(llm, deadline=time.monotonic() + 5)

    assert message.startswith(
        "openai answered HTTP 429 (rate limited; waiting 30.0 s would pass the node's time limit)"
    )
    assert len(llm_server.requests) == 1
    assert waits == []


def test_a_very_long_retry_after_fails_at_once(
    llm: LLMClient, llm_server: LLMServer, waits: Waits
) -> None:
    llm_server.script(Status(429, "come back tomorrow", {"Retry-After": "86400"}))

    assert "the server asks to wait 86400 s" in failure(llm)
    assert waits == []


def test_slow_answer_past_the_read_timeout(
    llm_server: LLMServer, waits: Waits, clean_env: pytest.MonkeyPatch
) -> None:
    llm = client_for(llm_server, waits, read_timeout=0.3)
    llm_server.script(Slow(5, Answer("too late")))

    assert failure(llm) == "openai did not answer in time"
    assert len(llm_server.requests) == 1  # a hung request is not sent again


def test_slow_answer_past_the_node_deadline(llm: LLMClient, llm_server: LLMServer) -> None:
    llm_server.script(Slow(5, Answer("too late")))

    assert failure(llm, deadline=time.monotonic() + 0.3) == "openai did not answer in time"


def test_unreachable_server_is_retried_then_named(
    llm_server: LLMServer, waits: Waits, clean_env: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    llm = client_for(llm_server, waits, openai_base_url=f"http://127.0.0.1:{port}/v1")

    assert failure(llm).startswith("cannot reach openai: ")
    assert len(waits) == 2


def test_cancel_interrupts_the_call_in_flight(llm: LLMClient, llm_server: LLMServer) -> None:
    llm_server.script(Hold())
    info = llm.models.resolve("gpt-4o")

    async def scenario() -> None:
        call = asyncio.create_task(llm.complete(info, HELLO, credentials=credential()))
        await asyncio.to_thread(llm_server.wait_for_requests, 1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        # The server held the answer; it sees the connection go away.
        assert await asyncio.to_thread(llm_server.disconnected.wait, 10)

    drive(llm, scenario())


# -- answers that cannot be used -------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Raw(b'{"choices": [{"message": '), "openai sent a malformed answer: "),
        (Raw(b"<html>gateway</html>", content_type="text/html"), "openai sent a malformed answer"),
        (Raw(b'{"id": "x", "object": "chat.completion"}'), "openai sent a"),
        (Raw(b'{"choices": [], "usage": null}'), "openai sent an answer without choices"),
        (Answer(""), "openai sent an empty answer (finish reason stop)"),
    ],
)
def test_unusable_openai_answers(
    llm: LLMClient, llm_server: LLMServer, reply: Any, expected: str
) -> None:
    llm_server.script(reply)

    assert failure(llm).startswith(expected)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Raw(b'{"content": [{"type": "text", '), "anthropic sent a malformed answer: "),
        (Answer(""), "anthropic sent an empty answer (stop reason end_turn)"),
    ],
)
def test_unusable_anthropic_answers(
    llm: LLMClient, llm_server: LLMServer, reply: Any, expected: str
) -> None:
    llm_server.script(reply)

    assert failure(llm, "claude-3-haiku-20240307").startswith(expected)


# -- tool calls (for the Orchestrator) --------------------------------------------------

WEATHER = ToolSpec(
    "get_weather",
    "The weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
AFTER_A_CALL = (
    Message(Role.USER, "Weather in Paris?"),
    Message(
        Role.ASSISTANT, "", tool_calls=(ToolCall("call_7", "get_weather", '{"city": "Paris"}'),)
    ),
    Message(Role.TOOL, "sunny", tool_call_id="call_7"),
)


def test_openai_tool_calls(llm: LLMClient, llm_server: LLMServer) -> None:
    llm_server.script(Answer(tool_calls=(("get_weather", {"city": "Rome"}),)))

    response = complete(llm, "gpt-4o", AFTER_A_CALL, tools=[WEATHER], parallel_tool_calls=False)

    assert response.text == ""
    assert response.tool_calls == (ToolCall("call_0", "get_weather", '{"city": "Rome"}'),)
    [sent] = llm_server.requests
    assert sent.body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city.",
                "parameters": WEATHER.parameters,
            },
        }
    ]
    assert sent.body["parallel_tool_calls"] is False
    assert sent.messages[1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_7",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_7", "content": "sunny"},
    ]


def test_o_series_models_get_no_parallel_tool_calls(llm: LLMClient, llm_server: LLMServer) -> None:
    llm_server.script(Answer(tool_calls=(("get_weather", {"city": "Rome"}),)))

    complete(llm, "o3-mini", AFTER_A_CALL, tools=[WEATHER], parallel_tool_calls=False)

    assert "parallel_tool_calls" not in llm_server.requests[0].body


def test_anthropic_tool_calls(llm: LLMClient, llm_server: LLMServer) -> None:
    llm_server.script(Answer("Let me look.", tool_calls=(("get_weather", {"city": "Rome"}),)))

    response = complete(
        llm, "claude-sonnet-4-20250514", AFTER_A_CALL, provider="anthropic", tools=[WEATHER]
    )

    assert response.text == "Let me look."
    assert response.tool_calls == (ToolCall("toolu_0", "get_weather", '{"city": "Rome"}'),)
    assert response.stop_reason == "tool_use"
    [sent] = llm_server.requests
    assert sent.body["tools"] == [
        {
            "name": "get_weather",
            "description": "The weather in a city.",
            "input_schema": WEATHER.parameters,
        }
    ]
    assert sent.messages == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "call_7",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                }
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "call_7", "content": "sunny"}],
        },
    ]


# -- credentials and secrets -----------------------------------------------------------


def test_a_model_needs_a_key_of_its_own_provider(llm: LLMClient, llm_server: LLMServer) -> None:
    info = llm.models.resolve("gpt-4o")
    with pytest.raises(ProviderError, match="needs an API key for provider openai"):
        drive(llm, llm.complete(info, HELLO, credentials=None))
    with pytest.raises(ProviderError, match="is for anthropic, but model gpt-4o runs on openai"):
        drive(llm, llm.complete(info, HELLO, credentials=credential("anthropic")))
    assert llm_server.requests == []


def test_the_secret_never_reaches_errors_or_logs(
    llm_server: LLMServer,
    waits: Waits,
    clean_env: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    llm = client_for(llm_server, waits, read_timeout=0.3)
    llm_server.script(
        Status(401, f"Incorrect API key provided: {SECRET}."),
        Status(500, f"upstream refused key {SECRET}"),
        Status(500, f"upstream refused key {SECRET}"),
        Status(500, f"upstream refused key {SECRET}"),
        Slow(5, Answer("late")),
        Raw(json.dumps({"choices": [{"message": SECRET}]}).encode()),
    )
    messages = []
    with caplog.at_level(logging.DEBUG):
        for _ in range(4):
            messages.append(failure(llm))
        llm_server.script(Status(401, f"invalid x-api-key {SECRET}"))
        messages.append(failure(llm, "claude-opus-4-6"))

    assert messages[0] == "openai answered HTTP 401 (unauthorized: check the API key): " + (
        "Incorrect API key provided: ***."
    )
    assert "gave up after 3 attempts" in messages[1]
    assert messages[4].endswith("invalid x-api-key ***")
    logged = [r.getMessage() + repr(r.args) for r in caplog.records]
    assert any("retry 1 of 2" in line for line in logged)  # the retries were logged
    for text in messages + logged + [caplog.text]:
        assert SECRET not in text
