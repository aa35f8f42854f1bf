"""Type conversion the AutoGPT way, and the block that exposes it.

``convert`` turns a value into one of the JSON-ish Python types (str, int, float,
bool, list, dict) with AutoGPT's lenient rules: text that looks like JSON is parsed,
containers count as their length when a number is asked for, anything else falls back
to a neutral value (0, False, a one-element list, ``{"value": ...}``).
"""

from __future__ import annotations

import json
import reprlib
from enum import StrEnum
from typing import Any

from pydantic import Field

from .base import Block, BlockContext, BlockOutput, BlockSchema, Isolation, TestVector


class ConversionError(ValueError):
    """The value cannot be turned into the requested type."""


def convert(value: Any, target: type) -> Any:
    """``value`` as a ``target`` (str, int, float, bool, list or dict); other targets
    leave the value as it is. Raises ``ConversionError``."""
    if target not in _CONVERTERS:
        return value
    if isinstance(value, target) and not (target is int and isinstance(value, bool)):
        return value
    try:
        return _CONVERTERS[target](value)
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise ConversionError(f"cannot convert {_describe(value)} to {target.__name__}") from exc


def _describe(value: Any) -> str:
    return reprlib.repr(value)  # bounded in depth and length, whatever the value


def _to_str(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _to_number(value: Any, kind: type[int] | type[float]) -> int | float:
    if isinstance(value, list | dict | tuple | set):
        return kind(len(value))
    try:
        number = float(value)
    except (ValueError, TypeError):
        return kind(0)
    return kind(number)


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _to_list(value: Any) -> list[Any]:
    if isinstance(value, list | tuple | set):
        return list(value)
    if isinstance(value, dict):
        # AutoGPT yields (key, value) pairs; as stored JSON those are 2-item lists.
        return [[key, item] for key, item in value.items()]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            try:
                parsed = json.loads(text)
            except ValueError:
                return [value]
            if isinstance(parsed, list):
                return parsed
        return [value]
    return [value]


def _to_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {"value": value}
        return parsed if isinstance(parsed, dict) else {"value": parsed}
    if isinstance(value, list | tuple):
        # Index keys as text: that is what they become once the output is stored as JSON.
        return {str(index): item for index, item in enumerate(value)}
    return {"value": value}


_CONVERTERS: dict[type, Any] = {
    str: _to_str,
    int: lambda value: _to_number(value, int),
    float: lambda value: _to_number(value, float),
    bool: _to_bool,
    list: _to_list,
    dict: _to_dict,
}


class TypeOption(StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    LIST = "list"
    DICTIONARY = "dictionary"


_TARGETS: dict[TypeOption, type] = {
    TypeOption.STRING: str,
    TypeOption.NUMBER: float,
    TypeOption.BOOLEAN: bool,
    TypeOption.LIST: list,
    TypeOption.DICTIONARY: dict,
}


class UniversalTypeConverterBlock(Block):
    """Converts a value to string, number, boolean, list or dictionary.

    Same rules as AutoGPT, with one difference in shape: a list converted to a dictionary
    gets text keys ("0", "1", ...) where AutoGPT uses integers; once stored as JSON,
    AutoGPT's keys are text too, so downstream blocks see the same thing.
    """

    id = "95d1b990-ce13-4d88-9737-ba5c2070c97b"
    description = "Converts a value to a string, number, boolean, list or dictionary."
    categories = ("BASIC",)
    isolation = Isolation.WORKER  # JSON parsing and dumping of author-sized values

    class Input(BlockSchema):
        value: Any = Field(description="The value to convert.")
        type: TypeOption = Field(description="The type to convert it to.")

    class Output(BlockSchema):
        value: Any = Field(description="The converted value.")

    test_vectors = (
        TestVector({"value": {"a": 1}, "type": "string"}, [("value", '{"a": 1}')]),
        TestVector({"value": "plain", "type": "string"}, [("value", "plain")]),
        TestVector({"value": " 2.5 ", "type": "number"}, [("value", 2.5)]),
        TestVector({"value": [1, 2, 3], "type": "number"}, [("value", 3.0)]),
        TestVector({"value": "many", "type": "number"}, [("value", 0.0)]),
        TestVector({"value": "TRUE", "type": "boolean"}, [("value", True)]),
        TestVector({"value": "yes", "type": "boolean"}, [("value", False)]),
        TestVector({"value": 0, "type": "boolean"}, [("value", False)]),
        TestVector({"value": '["a", 1]', "type": "list"}, [("value", ["a", 1])]),
        TestVector({"value": "a, b", "type": "list"}, [("value", ["a, b"])]),
        TestVector({"value": {"k": "v"}, "type": "list"}, [("value", [["k", "v"]])]),
        TestVector({"value": '{"k": [1]}', "type": "dictionary"}, [("value", {"k": [1]})]),
        TestVector({"value": "[1]", "type": "dictionary"}, [("value", {"value": [1]})]),
        TestVector({"value": ["x", "y"], "type": "dictionary"}, [("value", {"0": "x", "1": "y"})]),
        TestVector({"value": 7, "type": "dictionary"}, [("value", {"value": 7})]),
        TestVector(
            {"value": "1e999", "type": "number"},
            [("value", float("inf"))],
        ),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        try:
            converted = convert(input_data.value, _TARGETS[input_data.type])
        except ConversionError as exc:
            yield "error", f"Failed to convert value: {exc}"
            return
        yield "value", converted
