"""AutoGPT's own block test vectors, run against our blocks.

A vector file holds a block's ``test_input`` list and one flat ``test_output`` list: the
outputs of all inputs, in order (that is how AutoGPT's own test runner reads them). An
expected value matches as AutoGPT compares it: equal, or, where the vector gives an
``{"__expr__": ...}``, the evaluated expression called on the output is truthy (AutoGPT's
``MockObject`` is callable and truthy, so as an expected value it matches anything).
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from backend.blocks import get_block
from tests.autogpt_data import VECTORS_DIR, needs_autogpt_data

VECTOR_FILES = sorted(VECTORS_DIR.glob("*.json"))

# Blocks whose file carries no vectors, and why they are not run.
NO_VECTORS = {
    # AutoGPT's SendWebRequestBlock declares no test_input/test_output (both null in the
    # file): there is nothing to replay. tests/unit/test_blocks.py and test_data_blocks.py
    # cover it against a local HTTP server instead.
    "SendWebRequestBlock",
}


class MockObject:
    """AutoGPT's test stand-in (backend/util/mock.py): attributes from keywords, None for
    any other attribute, and calling it returns itself."""

    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)

    def __getattr__(self, name: str) -> Any:
        return self.__dict__.get(name)

    def __call__(self, *args: Any, **kwargs: Any) -> MockObject:
        return self


NAMESPACE = {
    "MockObject": MockObject,
    "time": time,
    "datetime": datetime,
    "timedelta": timedelta,
    "ZoneInfo": ZoneInfo,
}


def resolve(value: Any) -> Any:
    """The vector's data with every ``{"__expr__": source}`` evaluated."""
    if isinstance(value, dict):
        if set(value) == {"__expr__"}:
            return eval(value["__expr__"], dict(NAMESPACE))  # vectors are AutoGPT's source
        return {key: resolve(item) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item) for item in value]
    return value


def matches(actual: Any, expected: Any) -> bool:
    if actual == expected:
        return True
    if isinstance(expected, type):
        return isinstance(actual, expected)
    return callable(expected) and bool(expected(actual))


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@needs_autogpt_data
@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.stem)
def test_autogpt_vectors_pass(path: Path) -> None:
    vector = load(path)
    if vector["test_input"] is None:
        assert vector["name"] in NO_VECTORS, f"{vector['name']} has no vectors; say why"
        pytest.skip(f"AutoGPT ships no test vectors for {vector['name']}")
    block = get_block(vector["block_id"])
    assert block is not None, f"no block with AutoGPT's id for {vector['name']}"
    assert block.name == vector["name"]
    inputs = vector["test_input"]
    inputs = inputs if isinstance(inputs, list) else [inputs]

    async def produce() -> list[tuple[str, Any]]:
        outputs = []
        for data in inputs:
            async for output in block.execute(resolve(data)):
                outputs.append(output)
        return outputs

    produced = asyncio.run(produce())
    expected = [(pin, resolve(value)) for pin, value in vector["test_output"]]
    assert [pin for pin, _ in produced] == [pin for pin, _ in expected], path.stem
    for (pin, actual), (_, wanted) in zip(produced, expected, strict=True):
        assert matches(actual, wanted), f"{path.stem} {pin}: {actual!r} vs {wanted!r}"


@needs_autogpt_data
def test_every_block_with_vectors_is_ours() -> None:
    """A vector file for a block we lack would silently skip: there must be none."""
    missing = [p.stem for p in VECTOR_FILES if get_block(load(p)["block_id"]) is None]
    assert missing == []
