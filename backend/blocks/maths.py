"""Arithmetic blocks."""

import math
import operator
from collections.abc import Callable, Iterable, Sized
from enum import StrEnum
from typing import Any

from pydantic import Field

from .base import Block, BlockContext, BlockOutput, BlockSchema, TestVector


class Operation(StrEnum):
    ADD = "Add"
    SUBTRACT = "Subtract"
    MULTIPLY = "Multiply"
    DIVIDE = "Divide"
    POWER = "Power"


_OPERATIONS: dict[Operation, Callable[[float, float], Any]] = {
    Operation.ADD: operator.add,
    Operation.SUBTRACT: operator.sub,
    Operation.MULTIPLY: operator.mul,
    Operation.DIVIDE: operator.truediv,
    Operation.POWER: operator.pow,
}


def calculate(operation: Operation, a: float, b: float) -> float:
    """AutoGPT's arithmetic: dividing by zero gives inf, any other failure gives nan."""
    if operation is Operation.DIVIDE and b == 0:
        return math.inf
    try:
        result = _OPERATIONS[operation](a, b)
    except ZeroDivisionError:  # 0 ** negative
        return math.inf
    except (ArithmeticError, ValueError):
        return math.nan
    if isinstance(result, complex):  # negative base, fractional exponent
        return math.nan
    return float(result)


class CalculatorBlock(Block):
    id = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
    description = "Adds, subtracts, multiplies, divides or raises two numbers."
    categories = ("LOGIC",)

    class Input(BlockSchema):
        operation: Operation = Field(description="The operation to apply to a and b.")
        a: float = Field(description="First operand.")
        b: float = Field(description="Second operand.")
        round_result: bool = Field(default=False, description="Round to a whole number.")

    class Output(BlockSchema):
        result: float = Field(description="The result (inf for x/0, nan for other failures).")

    test_vectors = (
        TestVector({"operation": "Add", "a": 10.0, "b": 5.0}, [("result", 15.0)]),
        TestVector({"operation": "Subtract", "a": 10, "b": 15}, [("result", -5.0)]),
        TestVector({"operation": "Multiply", "a": 2.5, "b": 4}, [("result", 10.0)]),
        TestVector({"operation": "Divide", "a": 7, "b": 2}, [("result", 3.5)]),
        TestVector(
            {"operation": "Divide", "a": 7, "b": 2, "round_result": True}, [("result", 4.0)]
        ),
        TestVector({"operation": "Power", "a": 2, "b": 10}, [("result", 1024.0)]),
        TestVector({"operation": "Divide", "a": 1, "b": 0}, [("result", math.inf)]),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        result = calculate(input_data.operation, input_data.a, input_data.b)
        if input_data.round_result and math.isfinite(result):
            result = float(round(result))
        yield "result", result


class CountItemsBlock(Block):
    id = "3c9c2f42-b0c3-435f-ba35-05f7a25c772a"
    description = "Counts the items of a list or dictionary, or the characters of a text."
    categories = ("LOGIC",)

    class Input(BlockSchema):
        collection: Any = Field(description="A list, dictionary, text or other collection.")

    class Output(BlockSchema):
        count: int = Field(description="Number of items.")

    test_vectors = (
        TestVector({"collection": [1, 2, 3, 4, 5]}, [("count", 5)]),
        TestVector({"collection": {"a": 1, "b": 2}}, [("count", 2)]),
        TestVector({"collection": "hello"}, [("count", 5)]),
        TestVector({"collection": 42}, [("error", "cannot count the items of a int")]),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        collection = input_data.collection
        if isinstance(collection, Sized):
            yield "count", len(collection)
        elif isinstance(collection, Iterable):
            yield "count", sum(1 for _ in collection)
        else:
            yield "error", f"cannot count the items of a {type(collection).__name__}"
