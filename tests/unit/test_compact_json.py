"""The stores' JSON encoder: the same values as the plain one, written compactly."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from typing import Any

import pytest

from backend.util.finite_json import compact_dumps, dumps


@dataclasses.dataclass
class Point:
    x: int


VALUES: list[Any] = [
    {"a": [1, 2.5, "é", None, True]},
    {"nested": {"n": float("nan"), "i": [float("inf"), -math.inf]}},
    {1: "int key", None: "null key"},
    [2**70, "wider than 64 bits"],
    "lone surrogate \ud800",
    {"when": datetime.datetime(2026, 12, 4, 18, 0, tzinfo=datetime.UTC)},
    {"point": Point(3), "set": {1}},
    ("a", "tuple"),
]


@pytest.mark.parametrize("value", VALUES)
def test_reads_back_as_the_plain_encoder_writes(value: Any) -> None:
    assert json.loads(compact_dumps(value)) == json.loads(dumps(value))


def test_is_compact_and_keeps_non_ascii_text() -> None:
    assert compact_dumps({"a": [1, "é"]}) == '{"a":[1,"é"]}'


def test_non_finite_numbers_are_null() -> None:
    assert json.loads(compact_dumps([math.nan, math.inf])) == [None, None]
