"""Blocks that build, look into and step through dictionaries and lists."""

import contextlib
import json
from typing import Any

from pydantic import Field

from .base import Block, BlockContext, BlockOutput, BlockSchema, TestVector

# Aliases keep the annotations readable in schemas that have a pin named `list`.
AnyList = list[Any]
AnyDict = dict[Any, Any]

_JSON_SCALARS = (str, int, float, bool, type(None))


class CreateDictionaryBlock(Block):
    id = "b924ddf4-de4f-4b56-9a85-358930dcbc91"
    description = "Builds a dictionary from key/value pairs."
    categories = ("DATA",)

    class Input(BlockSchema):
        values: dict[str, Any] = Field(description="The key/value pairs.")

    class Output(BlockSchema):
        dictionary: dict[str, Any] = Field(description="The new dictionary.")

    test_vectors = (
        TestVector(
            {"values": {"name": "Alice", "age": 25}},
            [("dictionary", {"name": "Alice", "age": 25})],
        ),
        TestVector({"values": {}}, [("dictionary", {})]),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        yield "dictionary", dict(input_data.values)


class AddToDictionaryBlock(Block):
    id = "31d1064e-7446-4693-a7d4-65e5ca1180d1"
    description = "Adds one entry, or several, to a copy of a dictionary."
    categories = ("DATA",)

    class Input(BlockSchema):
        dictionary: AnyDict = Field(
            default_factory=dict, description="Dictionary to extend; empty when unset."
        )
        key: str = Field(default="", description="Key of the single entry to add.")
        value: Any = Field(default=None, description="Value of the single entry to add.")
        entries: AnyDict = Field(default_factory=dict, description="Several entries to add.")

    class Output(BlockSchema):
        updated_dictionary: AnyDict = Field(description="The extended dictionary.")

    test_vectors = (
        TestVector(
            {"dictionary": {"existing_key": "existing_value"}, "key": "new", "value": 1},
            [("updated_dictionary", {"existing_key": "existing_value", "new": 1})],
        ),
        TestVector({"key": "first", "value": "v"}, [("updated_dictionary", {"first": "v"})]),
        TestVector(
            {"dictionary": {"a": 1}, "key": "b", "value": 2, "entries": {"c": 3, "a": 0}},
            [("updated_dictionary", {"a": 0, "b": 2, "c": 3})],
        ),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        updated = dict(input_data.dictionary)
        if input_data.key and input_data.value is not None:
            updated[input_data.key] = input_data.value
        updated.update(input_data.entries)
        yield "updated_dictionary", updated


class FindInDictionaryBlock(Block):
    id = "0e50422c-6dee-4145-83d6-3a5a392f65de"
    description = "Looks a key up in a dictionary, an index up in a list, or a key in each dict."
    categories = ("DATA",)

    class Input(BlockSchema):
        input: Any = Field(description="Dictionary, list or object to look into (or JSON).")
        key: str | int = Field(description="Key, list index or attribute name.")

    class Output(BlockSchema):
        output: Any = Field(description="The value found.")
        missing: Any = Field(description="The input, when the key is not there.")

    test_vectors = (
        TestVector(
            {"input": {"apple": 1, "banana": 2, "cherry": 3}, "key": "banana"}, [("output", 2)]
        ),
        TestVector({"input": {"x": 10, "y": 20}, "key": "w"}, [("missing", {"x": 10, "y": 20})]),
        TestVector({"input": [1, 2, 3], "key": 1}, [("output", 2)]),
        TestVector({"input": [1, 2, 3], "key": 3}, [("missing", [1, 2, 3])]),
        TestVector(
            {"input": [{"k1": "v1"}, {"k2": "v2"}, {"k1": "v3"}], "key": "k1"},
            [("output", ["v1", "v3"])],
        ),
        TestVector({"input": '{"a": {"b": 1}}', "key": "a"}, [("output", {"b": 1})]),
        TestVector({"input": {"items": 1}, "key": "keys"}, [("missing", {"items": 1})]),
        # Scalars have no keys: their Python attributes (42 .real) are not looked at.
        TestVector({"input": 42, "key": "real"}, [("missing", 42)]),
        TestVector({"input": None, "key": "a"}, [("missing", None)]),
        TestVector({"input": True, "key": 0}, [("missing", True)]),
        TestVector({"input": "plain text", "key": "upper"}, [("missing", "plain text")]),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        container, key = input_data.input, input_data.key
        if isinstance(container, str):
            with contextlib.suppress(ValueError):  # not JSON: looked into as it is
                container = json.loads(container)
        if isinstance(container, dict):
            if key in container:
                yield "output", container[key]
                return
        elif isinstance(container, list):
            if isinstance(key, int):
                if 0 <= key < len(container):
                    yield "output", container[key]
                    return
            else:
                # Collect the key from every element that has it, like AutoGPT.
                yield "output", _pluck(container, key)
                return
        elif isinstance(key, str) and _has_public_attr(container, key):
            yield "output", getattr(container, key)
            return
        yield "missing", input_data.input


def _has_public_attr(obj: Any, key: str) -> bool:
    """Attribute lookup is for objects only, never for JSON values' methods."""
    if isinstance(obj, (*_JSON_SCALARS, list, dict)):
        return False
    return not key.startswith("_") and hasattr(obj, key)


def _pluck(items: list[Any], name: str) -> list[Any]:
    found: list[Any] = []
    for item in items:
        if isinstance(item, dict):
            if name in item:
                found.append(item[name])
        elif _has_public_attr(item, name):
            found.append(getattr(item, name))
    return found


class CreateListBlock(Block):
    """Builds a list, optionally yielded in chunks of at most ``max_size`` values and/or
    ``max_tokens`` estimated tokens.

    AutoGPT counts tokens with OpenAI's o200k tokenizer, whose data this server cannot
    ship; here a value costs one token per 4 characters of its text (JSON for non-text),
    rounded up, the usual rule of thumb for English. A single value over the budget gets a
    chunk of its own; unlike AutoGPT, no empty chunk is yielded before it.
    """

    id = "a912d5c7-6e00-4542-b2a9-8034136930e4"
    description = "Builds a list from values, optionally in chunks by count or token budget."
    categories = ("DATA",)

    class Input(BlockSchema):
        values: AnyList = Field(description="The values, in order.")
        max_size: int | None = Field(
            default=None, ge=1, description="Yield the list in chunks of this many values."
        )
        max_tokens: int | None = Field(
            default=None,
            ge=1,
            description="Yield the list in chunks of at most this many (estimated) tokens.",
        )

    class Output(BlockSchema):
        list: AnyList = Field(description="The new list (or one chunk of it).")

    test_vectors = (
        TestVector({"values": ["Alice", 25, True]}, [("list", ["Alice", 25, True])]),
        TestVector({"values": []}, [("list", [])]),
        TestVector({"values": [], "max_size": 2}, [("list", [])]),
        TestVector(
            {"values": [1, 2, 3, 4, 5], "max_size": 2},
            [("list", [1, 2]), ("list", [3, 4]), ("list", [5])],
        ),
        TestVector(  # 2 + 1 + 3 tokens: "12345678", "abc", {"k": "value"} (14 chars)
            {"values": ["12345678", "abc", {"k": "value"}], "max_tokens": 3},
            [("list", ["12345678", "abc"]), ("list", [{"k": "value"}])],
        ),
        TestVector(
            {"values": ["a" * 40, "b", "c", "d"], "max_tokens": 5, "max_size": 2},
            [("list", ["a" * 40]), ("list", ["b", "c"]), ("list", ["d"])],
        ),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        values, max_size, max_tokens = input_data.values, input_data.max_size, input_data.max_tokens
        if not values or not (max_size or max_tokens):
            yield "list", list(values)
            return
        chunk: list[Any] = []
        chunk_tokens = 0
        for value in values:
            tokens = estimate_tokens(value) if max_tokens else 0
            full = (max_size and len(chunk) >= max_size) or (
                max_tokens and chunk_tokens + tokens > max_tokens
            )
            if chunk and full:
                yield "list", chunk
                chunk, chunk_tokens = [], 0
            chunk.append(value)
            chunk_tokens += tokens
        yield "list", chunk


def estimate_tokens(value: Any) -> int:
    """Roughly how many LLM tokens ``value`` takes: 4 characters of its text a token."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return -(-len(text) // 4)


class AddToListBlock(Block):
    id = "aeb08fc1-2fc1-4141-bc8e-f758f183a822"
    description = "Inserts one entry, or several, into a copy of a list."
    categories = ("DATA",)

    class Input(BlockSchema):
        list: AnyList = Field(default_factory=lambda: [], description="List to extend.")
        entry: Any = Field(default=None, description="A single entry to add.")
        entries: AnyList = Field(
            default_factory=lambda: [], description="Several entries, added before `entry`."
        )
        position: int | None = Field(
            default=None, description="Index to insert at; appended at the end when unset."
        )

    class Output(BlockSchema):
        updated_list: AnyList = Field(description="The extended list.")

    test_vectors = (
        TestVector(
            {"list": ["a", "b"], "entry": "e", "entries": ["f", "g"], "position": 1},
            [("updated_list", ["a", "f", "g", "e", "b"])],
        ),
        TestVector(
            {"list": [1, "string"], "entry": {"new_key": "new_value"}, "position": 1},
            [("updated_list", [1, {"new_key": "new_value"}, "string"])],
        ),
        TestVector({"entry": "first_entry"}, [("updated_list", ["first_entry"])]),
        TestVector(
            {"list": ["a", "b", "c"], "entry": "d"}, [("updated_list", ["a", "b", "c", "d"])]
        ),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        added = list(input_data.entries)
        if input_data.entry is not None:
            added.append(input_data.entry)
        original = input_data.list
        position = input_data.position
        if position is None:
            yield "updated_list", [*original, *added]
        else:
            yield "updated_list", [*original[:position], *added, *original[position:]]


class StepThroughItemsBlock(Block):
    id = "f66a3543-28d3-4ab5-8945-9b336371e2ce"
    description = "Emits each element of a list or dictionary with its index or key."
    categories = ("LOGIC",)

    class Input(BlockSchema):
        items: AnyList | dict[str, Any] = Field(
            default_factory=lambda: [], description="The list or dictionary to step through."
        )
        items_object: dict[str, Any] = Field(
            default_factory=dict, description="A dictionary to step through."
        )
        items_str: str = Field(default="", description="A list or dictionary as JSON text.")

    class Output(BlockSchema):
        item: Any = Field(description="The current element.")
        key: Any = Field(description="Its list index or dictionary key.")

    test_vectors = (
        TestVector(
            {"items": [1, 2, {"key1": "value1"}]},
            [
                ("item", 1),
                ("key", 0),
                ("item", 2),
                ("key", 1),
                ("item", {"key1": "value1"}),
                ("key", 2),
            ],
        ),
        TestVector(
            {"items_object": {"a": 1, "b": [2]}},
            [("item", 1), ("key", "a"), ("item", [2]), ("key", "b")],
        ),
        TestVector(
            {"items_str": '["x", "y"]'},
            [("item", "x"), ("key", 0), ("item", "y"), ("key", 1)],
        ),
        TestVector({}, []),
        TestVector({"items_str": "5"}, [("error", "items_str must be a JSON list or object")]),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        # Like AutoGPT, every non-empty source is stepped through, in pin order.
        for source in (input_data.items, input_data.items_object, input_data.items_str):
            if not source:
                continue
            items: Any = source
            if isinstance(source, str):
                try:
                    items = json.loads(source)
                except ValueError as exc:
                    yield "error", f"items_str is not valid JSON: {exc}"
                    return
                if not isinstance(items, list | dict):
                    yield "error", "items_str must be a JSON list or object"
                    return
            pairs = items.items() if isinstance(items, dict) else enumerate(items)
            for key, item in pairs:
                yield "item", item
                yield "key", key
