"""Summarising a text too long for one prompt: chunks, their summaries, then one summary.

Following AutoGPT, the text is cut into overlapping chunks of ``max_tokens`` words,
each chunk is summarised, and the joined summaries are summarised once more. When the
joined summaries are themselves longer than a chunk, they are summarised the same way
again, for a bounded number of rounds.
"""

from __future__ import annotations

from typing import Any

from .llm_base import AnswerError, LLMCall
from .llm_structured import structured_answer

MAX_TEXT_CHARS = 1_000_000  # the rest of a longer text is not summarised
MAX_CHUNKS = 100
MAX_ROUNDS = 4


def split_words(text: str, max_words: int, overlap: int) -> list[str]:
    """Chunks of at most ``max_words`` words, each sharing ``overlap`` words with the next.

    Module-level and picklable: it runs through ``ctx.compute``.
    """
    words = text[:MAX_TEXT_CHARS].split()
    step = max(1, max_words - min(overlap, max_words - 1))
    return [" ".join(words[i : i + max_words]) for i in range(0, len(words), step)][:MAX_CHUNKS]


async def summarize(
    call: LLMCall, text: str, *, focus: str, style: str, max_tokens: int, overlap: int
) -> tuple[str, list[dict[str, Any]]]:
    """The summary and the prompt of the last call."""
    for _ in range(MAX_ROUNDS):
        chunks: list[str] = await call.ctx.compute(split_words, text, max_tokens, overlap)
        summaries = []
        for chunk in chunks:
            prompt = (
                f"Summarise the following text in a {style} form, focused on `{focus}` where "
                f"the text covers it, otherwise in general:\n\n```{chunk}```"
            )
            answer = await structured_answer(
                call, prompt=prompt, expected_format={"summary": "The summary of the text."}
            )
            summaries.append(_text(answer.value, "summary"))
        text = "\n\n".join(summaries)
        if len(text.split()) <= max_tokens:
            prompt = (
                f"Combine these summaries of the parts of one text into a final summary in a "
                f"{style} form, focused on `{focus}` where they cover it:\n\n```{text}```\n\n"
                "Answer with the final_summary in the format given."
            )
            answer = await structured_answer(
                call,
                prompt=prompt,
                expected_format={"final_summary": "The final summary of all the summaries."},
            )
            return _text(answer.value, "final_summary"), answer.prompt
    raise AnswerError(
        f"the summaries were still longer than {max_tokens} words after {MAX_ROUNDS} rounds"
    )


def _text(value: Any, key: str) -> str:
    found = value[key]
    if not isinstance(found, str):
        raise AnswerError(f"expected text under {key!r}, but got {type(found).__name__}")
    return found
