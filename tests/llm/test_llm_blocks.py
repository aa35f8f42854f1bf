"""The LLM blocks end to end: block -> provider -> real SDK -> scripted server, and back."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

from backend.blocks.llm import (
    AIConversationBlock,
    AIListGeneratorBlock,
    AIStructuredResponseGeneratorBlock,
    AITextGeneratorBlock,
    AITextSummarizerBlock,
)
from backend.blocks.templates import render_template
from backend.providers.llm import LLMClient
from tests.llm.conftest import node_context, run_block
from tests.llm_server import Answer, LLMServer, Recorded, Respond

TAG = re.compile(r'<json_output id="([0-9a-f]{16})">')


def tagged(payload: Any, before: str = "Here you are.") -> Respond:
    """An answer carrying ``payload`` in the JSON block the request asked for."""

    def answer(request: Recorded) -> Answer:
        match = TAG.search(request.text)
        assert match, "the request asks for no JSON block"
        return Answer(f'{before}\n<json_output id="{match[1]}">{json.dumps(payload)}</json_output>')

    return Respond(answer)


# -- AITextGeneratorBlock ---------------------------------------------------------------


def test_text_generator_fills_prompt_values(llm: LLMClient, llm_server: LLMServer) -> None:
    llm_server.script(Answer("Dear Ana, ...", input_tokens=40, output_tokens=12))
    ctx = node_context(llm)
    data = {
        "model": "gpt-4o",
        "prompt": "Write to {{contact}} about {{ offer }}.",
        "sys_prompt": "You write for {{sender}}.",
        "prompt_values": {"contact": "Ana", "offer": "20% off", "sender": "Bo"},
        "retry": 3,
        "ollama_host": "localhost:11434",
    }

    outputs = run_block(AITextGeneratorBlock(), data, ctx)

    sent = [
        {"role": "system", "content": "You write for Bo."},
        {"role": "user", "content": "Write to Ana about 20% off."},
    ]
    assert outputs == [("response", "Dear Ana, ..."), ("prompt", sent)]
    assert llm_server.requests[0].messages == sent
    latency = ctx.stats.pop("latency_seconds")
    assert latency > 0
    assert ctx.stats == {
        "provider": "openai",
        "model": "gpt-4o",
        "input_tokens": 40,
        "output_tokens": 12,
        "llm_calls": 1,
    }


def test_prompt_without_values_is_sent_as_written(llm: LLMClient, llm_server: LLMServer) -> None:
    outputs = run_block(AITextGeneratorBlock(), {"prompt": "Keep {{ this }}."}, node_context(llm))

    assert outputs[0] == ("response", "scripted default answer")
    assert llm_server.requests[0].messages == [{"role": "user", "content": "Keep {{ this }}."}]


def test_non_text_prompt_values_are_sent_as_json(llm: LLMClient, llm_server: LLMServer) -> None:
    data = {"prompt": "Items: {{ items }}; n={{ n }}", "prompt_values": {"items": ["a"], "n": 2}}

    run_block(AITextGeneratorBlock(), data, node_context(llm))

    assert llm_server.requests[0].messages[0]["content"] == 'Items: ["a"]; n=2'


def test_the_prompt_is_rendered_by_ctx_compute_in_a_worker_process(
    llm: LLMClient, llm_server: LLMServer
) -> None:
    computed: list[Callable[..., Any]] = []
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:

        async def in_worker(fn: Callable[..., Any], *args: Any) -> Any:
            computed.append(fn)
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

        ctx = node_context(llm, compute=in_worker)
        data = {
            "prompt": "{% for i in range(3) %}{{ word }}{% endfor %}",
            "prompt_values": {"word": "ab"},
        }
        outputs = run_block(AITextGeneratorBlock(), data, ctx)

    assert outputs[0] == ("response", "scripted default answer")
    assert computed == [render_template]
    assert llm_server.requests[0].messages[0]["content"] == "ababab"


def test_a_broken_template_is_an_error(llm: LLMClient, llm_server: LLMServer) -> None:
    data = {"prompt": "{{ x.__class__ }}", "prompt_values": {"x": "1"}}

    [(pin, message)] = run_block(AITextGeneratorBlock(), data, node_context(llm))

    assert pin == "error" and message.startswith("prompt template failed: ")
    assert llm_server.requests == []


# -- AIStructuredResponseGeneratorBlock -------------------------------------------------


def test_structured_answer_is_re_asked_until_it_parses(
    llm: LLMClient, llm_server: LLMServer
) -> None:
    llm_server.script(
        Answer('Sure: {"key1": "a", "key2": "b"}'),  # no JSON block
        tagged({"key1": "a"}),  # a key missing
        tagged({"key1": "a", "key2": "b"}),
    )
    ctx = node_context(llm)
    data = {
        "prompt": "Describe {{ thing }}.",
        "prompt_values": {"thing": "a cat"},
        "expected_format": {"key1": "first", "key2": "second"},
        "retry": 3,
    }

    outputs = run_block(AIStructuredResponseGeneratorBlock(), data, ctx)

    first, second, third = llm_server.requests
    assert outputs == [("response", {"key1": "a", "key2": "b"}), ("prompt", third.messages)]
    instructions, prompt = first.messages
    assert instructions["role"] == "system" and '"key1": "first"' in instructions["content"]
    assert prompt == {"role": "user", "content": "Describe a cat."}
    assert second.messages[:2] == first.messages
    assert second.messages[2] == {
        "role": "assistant",
        "content": 'Sure: {"key1": "a", "key2": "b"}',
    }
    assert second.messages[3]["role"] == "user"
    assert "did not contain parseable JSON" in second.messages[3]["content"]
    assert "Missing keys: key2" in third.messages[5]["content"]
    assert ctx.stats["llm_calls"] == 3 and ctx.stats["input_tokens"] == 33


def test_structured_answer_gives_up_after_retry_attempts(
    llm: LLMClient, llm_server: LLMServer
) -> None:
    llm_server.default = Answer("no JSON here")
    data = {"prompt": "x", "expected_format": {"k": "v"}, "retry": 2}

    [(pin, message)] = run_block(AIStructuredResponseGeneratorBlock(), data, node_context(llm))

    assert pin == "error"
    assert message.startswith("the model's answer never matched the expected format: ")
    assert len(llm_server.requests) == 2


def test_structured_pure_json_list(llm: LLMClient, llm_server: LLMServer) -> None:
    llm_server.script(Answer('```json\n{"results": [{"name": "a"}, {"name": "b"}]}\n```'))
    data = {
        "prompt": "Two names",
        "expected_format": {"name": "a name"},
        "list_result": True,
        "force_json_output": True,
    }

    outputs = run_block(AIStructuredResponseGeneratorBlock(), data, node_context(llm))

    assert outputs[0] == ("response", [{"name": "a"}, {"name": "b"}])
    [sent] = llm_server.requests
    assert sent.body["response_format"] == {"type": "json_object"}
    assert '"results": [' in sent.messages[0]["content"]


def test_structured_history_comes_first(llm: LLMClient, llm_server: LLMServer) -> None:
    llm_server.script(tagged({"answer": "42"}))
    data = {
        "prompt": "And now?",
        "sys_prompt": "Be exact.",
        "expected_format": {"answer": "the answer"},
        "conversation_history": [
            {"role": "user", "content": "Earlier question"},
            {"role": "assistant", "content": "Earlier answer"},
        ],
        "model": "claude-sonnet-4-5-20250929",
    }

    outputs = run_block(AIStructuredResponseGeneratorBlock(), data, node_context(llm, "anthropic"))

    assert outputs[0] == ("response", {"answer": "42"})
    [sent] = llm_server.requests
    assert sent.body["system"].startswith("Be exact.\n\nYour answer MUST contain")
    assert [m["role"] for m in sent.messages] == ["user", "assistant", "user"]
    assert sent.messages[2]["content"] == [{"type": "text", "text": "And now?"}]


# -- AIListGeneratorBlock ---------------------------------------------------------------


def test_list_generator(llm: LLMClient, llm_server: LLMServer) -> None:
    llm_server.script(tagged({"list": ["Zylora Prime", "Kharon-9"]}))
    data = {"focus": "planets", "source_data": "Zylora Prime glows; Kharon-9 is a desert."}

    outputs = run_block(AIListGeneratorBlock(), data, node_context(llm))

    [sent] = llm_server.requests
    assert outputs == [
        ("generated_list", ["Zylora Prime", "Kharon-9"]),
        ("prompt", sent.messages),
        ("list_item", "Zylora Prime"),
        ("list_item", "Kharon-9"),
    ]
    prompt = sent.messages[-1]["content"]
    assert "planets" in prompt and "Kharon-9 is a desert." in prompt


def test_list_generator_needs_a_list(llm: LLMClient, llm_server: LLMServer) -> None:
    llm_server.script(tagged({"list": "not a list"}))

    [(pin, message)] = run_block(AIListGeneratorBlock(), {}, node_context(llm))

    assert (pin, message) == ("error", "expected a list, but got str: not a list")


# -- AITextSummarizerBlock --------------------------------------------------------------


def test_summarizer_summarises_overlapping_chunks_then_combines(
    llm: LLMClient, llm_server: LLMServer
) -> None:
    parts = iter(range(1, 10))

    def summary(request: Recorded) -> Respond:
        if "final_summary" in request.text:
            return tagged({"final_summary": "the whole story"})
        return tagged({"summary": f"part {next(parts)}"})

    llm_server.default = Respond(summary)
    text = " ".join(f"w{i}" for i in range(50))
    data = {
        "text": text,
        "model": "claude-3-5-haiku-latest",
        "max_tokens": 20,
        "chunk_overlap": 5,
        "style": "bullet points",
        "focus": "the plot",
    }

    outputs = run_block(AITextSummarizerBlock(), data, node_context(llm, "anthropic"))

    *chunks, final = llm_server.requests
    assert outputs == [("summary", "the whole story"), ("prompt", outputs[1][1])]
    starts = [re.search(r"```(w\d+) .* (w\d+)```", c.text).groups() for c in chunks]  # type: ignore[union-attr]
    assert starts == [("w0", "w19"), ("w15", "w34"), ("w30", "w49"), ("w45", "w49")]
    assert "bullet points" in chunks[0].text and "the plot" in chunks[0].text
    assert "part 1\n\npart 2\n\npart 3\n\npart 4" in final.text
    assert outputs[1][1][-1]["content"] == final.messages[-1]["content"][0]["text"]


def test_summarizer_wants_text_summaries(llm: LLMClient, llm_server: LLMServer) -> None:
    llm_server.default = tagged({"summary": ["not", "text"]})

    [(pin, message)] = run_block(AITextSummarizerBlock(), {"text": "a b c"}, node_context(llm))

    assert (pin, message) == ("error", "expected text under 'summary', but got list")


# -- AIConversationBlock ----------------------------------------------------------------


def test_conversation(llm: LLMClient, llm_server: LLMServer) -> None:
    llm_server.script(Answer("At Globe Life Field."))
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Who won the world series in 2020?"},
        {"role": "assistant", "content": "The Los Angeles Dodgers."},
        {"role": "user", "content": "Where was it played?"},
    ]

    outputs = run_block(AIConversationBlock(), {"messages": messages}, node_context(llm))

    assert outputs == [("response", "At Globe Life Field."), ("prompt", messages)]
    assert llm_server.requests[0].messages == messages


def test_conversation_rejects_malformed_messages(llm: LLMClient, llm_server: LLMServer) -> None:
    data = {"messages": [{"role": "wizard", "content": "hi"}]}

    [(pin, message)] = run_block(AIConversationBlock(), data, node_context(llm))

    assert pin == "error" and message.startswith("a conversation message must be an object")
    assert llm_server.requests == []
