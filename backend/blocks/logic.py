"""Branching blocks."""

import contextlib
import operator
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from pydantic import Field

from .base import Block, BlockContext, BlockOutput, BlockSchema, Isolation, TestVector
from .conversion import ConversionError, convert


class ComparisonOperator(StrEnum):
    EQUAL = "=="
    NOT_EQUAL = "!="
    GREATER_THAN = ">"
    LESS_THAN = "<"
    GREATER_THAN_OR_EQUAL = ">="
    LESS_THAN_OR_EQUAL = "<="


_COMPARISONS: dict[ComparisonOperator, Callable[[Any, Any], Any]] = {
    ComparisonOperator.EQUAL: operator.eq,
    ComparisonOperator.NOT_EQUAL: operator.ne,
    ComparisonOperator.GREATER_THAN: operator.gt,
    ComparisonOperator.LESS_THAN: operator.lt,
    ComparisonOperator.GREATER_THAN_OR_EQUAL: operator.ge,
    ComparisonOperator.LESS_THAN_OR_EQUAL: operator.le,
}


def _comparable(value: Any) -> Any:
    """Text that reads as a number compares as that number, like AutoGPT does."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        return text


class ConditionBlock(Block):
    id = "715696a0-e1da-45c8-b209-c2fa9c3b0be6"
    description = "Compares two values and routes to `yes_output` or `no_output`."
    categories = ("LOGIC",)

    class Input(BlockSchema):
        value1: Any = Field(description="Left-hand value.")
        operator: ComparisonOperator = Field(description="How to compare the values.")
        value2: Any = Field(description="Right-hand value.")
        yes_value: Any = Field(
            default=None, description="Sent to `yes_output` when true (default: value1)."
        )
        no_value: Any = Field(
            default=None, description="Sent to `no_output` when false (default: value2)."
        )

    class Output(BlockSchema):
        result: bool = Field(description="Outcome of the comparison.")
        yes_output: Any = Field(description="yes_value, when the comparison holds.")
        no_output: Any = Field(description="no_value, when it does not.")

    test_vectors = (
        TestVector(
            {
                "value1": 10,
                "operator": ">",
                "value2": 5,
                "yes_value": "Greater",
                "no_value": "Not greater",
            },
            [("result", True), ("yes_output", "Greater")],
        ),
        TestVector(
            {"value1": "10", "operator": "<", "value2": "9.5"},
            [("result", False), ("no_output", 9.5)],
        ),
        TestVector(
            {"value1": " abc ", "operator": "==", "value2": "abc"},
            [("result", True), ("yes_output", "abc")],
        ),
        TestVector(
            {"value1": "abc", "operator": ">=", "value2": 1},
            [("error", "cannot compare str with int using '>='")],
        ),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        value1 = _comparable(input_data.value1)
        value2 = _comparable(input_data.value2)
        try:
            result = bool(_COMPARISONS[input_data.operator](value1, value2))
        except TypeError:
            yield (
                "error",
                f"cannot compare {type(value1).__name__} with {type(value2).__name__} "
                f"using '{input_data.operator.value}'",
            )
            return
        yield "result", result
        if result:
            yield "yes_output", value1 if input_data.yes_value is None else input_data.yes_value
        else:
            yield "no_output", value2 if input_data.no_value is None else input_data.no_value


class IfInputMatchesBlock(Block):
    """Routes on ``input == value``. Like AutoGPT, when they differ ``value`` is first
    converted to the type of ``input`` (so 10 matches "10", and True matches "true")."""

    id = "6dbbc4b3-ca6c-42b6-b508-da52d23e13f2"
    description = "Checks whether the input equals a value and routes to yes or no."
    categories = ("LOGIC",)
    isolation = Isolation.WORKER  # compares and converts author-sized values

    class Input(BlockSchema):
        input: Any = Field(description="The value to check.")
        value: Any = Field(description="The value it must equal.")
        yes_value: Any = Field(default=None, description="Sent to `yes_output` on a match.")
        no_value: Any = Field(default=None, description="Sent to `no_output` otherwise.")

    class Output(BlockSchema):
        result: bool = Field(description="Whether the input matches.")
        yes_output: Any = Field(description="yes_value, on a match.")
        no_output: Any = Field(description="no_value, otherwise.")

    test_vectors = (
        TestVector(
            {"input": 10, "value": 10, "yes_value": "Greater", "no_value": "Not greater"},
            [("result", True), ("yes_output", "Greater")],
        ),
        TestVector(
            {"input": 10, "value": 20, "yes_value": "Greater", "no_value": "Not greater"},
            [("result", False), ("no_output", "Not greater")],
        ),
        TestVector(
            {"input": 10, "value": None, "yes_value": "Yes", "no_value": "No"},
            [("result", False), ("no_output", "No")],
        ),
        TestVector(
            {"input": 10, "value": "10", "yes_value": 1}, [("result", True), ("yes_output", 1)]
        ),
        TestVector({"input": "7", "value": 7}, [("result", True), ("yes_output", None)]),
        TestVector({"input": True, "value": "true"}, [("result", True), ("yes_output", None)]),
        TestVector({"input": [1], "value": "[1]"}, [("result", True), ("yes_output", None)]),
        TestVector({"input": "a", "value": "b"}, [("result", False), ("no_output", None)]),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        given, expected = input_data.input, input_data.value
        if given is not None and expected is not None and given != expected:
            with contextlib.suppress(ConversionError):
                expected = convert(expected, type(given))
        if given == expected:
            yield "result", True
            yield "yes_output", input_data.yes_value
        else:
            yield "result", False
            yield "no_output", input_data.no_value
