"""Asking a model for JSON of a given shape and re-asking until the answer parses.

AutoGPT's protocol, which its exported agents rely on: the format goes into a system
turn; the answer must carry exactly one ``<json_output id="...">`` block (the id is
random per call, so neither the user's text nor the model can forge it), or, in pure
JSON mode, be the JSON itself. An answer that does not parse or lacks keys is shown
back to the model with what was wrong, up to ``retry`` times. Without an expected format
the model's text is the answer.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backend.providers.base import Message, Role

from .llm_base import AnswerError, LLMCall

MAX_ATTEMPTS = 10  # whatever a graph sets as `retry`: each attempt is a paid call
TAG_END = "</json_output>"


@dataclass(frozen=True)
class Answer:
    value: Any  # the parsed JSON, or {"response": text} without an expected format
    prompt: list[dict[str, Any]]  # the messages of the last call, as AutoGPT outputs them


async def structured_answer(
    call: LLMCall,
    *,
    prompt: str,
    sys_prompt: str = "",
    history: Sequence[Message] = (),
    expected_format: dict[str, str] | None = None,
    list_result: bool = False,
    force_json: bool = False,
    retry: int = 3,
    max_tokens: int | None = None,
) -> Answer:
    messages = list(history)
    if sys_prompt:
        messages.append(Message(Role.SYSTEM, sys_prompt))
    tag = f'<json_output id="{secrets.token_hex(8)}">'
    if expected_format:
        messages.append(
            Message(Role.SYSTEM, _instructions(expected_format, list_result, force_json, tag))
        )
    if prompt:
        messages.append(Message(Role.USER, prompt))

    problem = ""
    for _ in range(max(1, min(retry, MAX_ATTEMPTS))):
        sent = [m.to_dict() for m in messages]
        response = await call(
            messages, max_tokens=max_tokens, json_mode=force_json and bool(expected_format)
        )
        if not expected_format:
            return Answer({"response": response.text}, sent)
        try:
            value = _extract(response.text, force_json, tag)
        except ValueError as exc:
            problem = f"Your answer did not contain parseable JSON: {exc}"
        else:
            value, problem = _check(value, expected_format, list_result)
            if not problem:
                return Answer(value, sent)
        messages.append(Message(Role.ASSISTANT, response.text))
        messages.append(Message(Role.USER, _feedback(problem, force_json, tag)))
    raise AnswerError(f"the model's answer never matched the expected format: {problem}")


def _shape(expected_format: dict[str, str], list_result: bool, force_json: bool) -> str:
    shape = json.dumps(expected_format, indent=2)
    if not list_result:
        return shape
    items = "[\n  " + shape.replace("\n", "\n  ") + ",\n  ...\n]"
    if not force_json:
        return items
    # A bare JSON mode answers objects only, so the list goes under "results".
    return (
        '{\n  "reasoning": "... (optional)",\n  "results": ' + items.replace("\n", "\n  ") + "\n}"
    )


def _instructions(
    expected_format: dict[str, str], list_result: bool, force_json: bool, tag: str
) -> str:
    kind = "object" if force_json or not list_result else "array"
    shape = _shape(expected_format, list_result, force_json)
    lines = [
        f"Your answer MUST contain a valid JSON {kind} of exactly this shape, where each "
        "value describes what to put there:",
        shape if force_json else f"{tag}\n{shape}\n{TAG_END}",
        "Give an empty string for any value you cannot provide.",
    ]
    if not force_json:
        lines.append(
            f"Put the JSON, and nothing else, between {tag} and {TAG_END}, exactly once, "
            "even if asked for other tags. Text outside that block is allowed."
        )
    return "\n\n".join(lines)


def _feedback(problem: str, force_json: bool, tag: str) -> str:
    where = "as the whole answer" if force_json else f"between {tag} and {TAG_END}"
    return f"{problem}\n\nAnswer again with valid JSON in the expected format, {where}."


def _extract(text: str, force_json: bool, tag: str) -> Any:
    if force_json:
        try:
            return json.loads(text)
        except ValueError as first:
            # Models wrap JSON in ``` fences or a sentence now and then.
            start, end = text.find("{"), text.rfind("}")
            try:
                return json.loads(text[start : end + 1])
            except ValueError:
                raise first from None
    if tag not in text:
        raise ValueError(f"the answer has no {tag}...{TAG_END} block")
    return json.loads(text.split(tag, 1)[1].rsplit(TAG_END, 1)[0].strip())


def _check(value: Any, expected_format: dict[str, str], list_result: bool) -> tuple[Any, str]:
    """The answer as the block outputs it, and what is wrong with it ("" when nothing)."""
    if list_result and isinstance(value, dict):
        if not isinstance(value.get("results"), list):
            return value, f'Expected the list under the "results" key, but got: {value}'
        value = value["results"]
    items = value if list_result and isinstance(value, list) else [value]
    problems = []
    for item in items:
        if not isinstance(item, dict):
            problems.append(f"Expected a JSON object, but got {type(item).__name__}")
        elif missing := sorted(expected_format.keys() - item.keys()):
            problems.append(f"Missing keys: {', '.join(missing)}")
    if problems:
        return value, "Your answer did not match the expected format:\n" + "\n".join(problems)
    return value, ""
