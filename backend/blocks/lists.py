"""Blocks that look into and take apart lists."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .base import Block, BlockContext, BlockOutput, BlockSchema, Isolation, TestVector

AnyList = list[Any]


class GetListItemBlock(Block):
    id = "262ca24c-1025-43cf-a578-534e23234e97"
    description = "Outputs the item at an index of a list (negative indices count from the end)."
    categories = ("BASIC",)
    isolation = Isolation.WORKER

    class Input(BlockSchema):
        list: AnyList = Field(description="The list to take the item from.")
        index: int = Field(description="The 0-based index; -1 is the last item.")

    class Output(BlockSchema):
        item: Any = Field(description="The item at that index.")

    test_vectors = (
        TestVector({"list": [1, 2, 3], "index": 1}, [("item", 2)]),
        TestVector({"list": [1, 2, 3], "index": -1}, [("item", 3)]),
        TestVector({"list": [1, 2, 3], "index": 3}, [("error", "Index out of range")]),
        TestVector({"list": [], "index": 0}, [("error", "Index out of range")]),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        items, index = input_data.list, input_data.index
        if not -len(items) <= index < len(items):
            yield "error", "Index out of range"
            return
        yield "item", items[index]


class RemoveFromListBlock(Block):
    id = "d93c5a93-ac7e-41c1-ae5c-ef67e6e9b826"
    description = "Removes an item from a copy of a list, by index or by value."
    categories = ("BASIC",)
    isolation = Isolation.WORKER

    class Input(BlockSchema):
        list: AnyList = Field(description="The list to remove from.")
        value: Any = Field(
            default=None, description="Value to remove (its first occurrence), if no index."
        )
        index: int | None = Field(
            default=None, description="Index of the item to remove (negative from the end)."
        )
        return_item: bool = Field(default=False, description="Also output the removed item.")

    class Output(BlockSchema):
        updated_list: AnyList = Field(description="The list without the item.")
        removed_item: Any = Field(description="The removed item, when return_item is set.")

    test_vectors = (
        TestVector(
            {"list": [1, 2, 3], "index": 1, "return_item": True},
            [("updated_list", [1, 3]), ("removed_item", 2)],
        ),
        TestVector(
            {"list": ["a", "b", "c", "b"], "value": "b"}, [("updated_list", ["a", "c", "b"])]
        ),
        TestVector(
            {"list": ["a", "b"], "index": 0, "value": "b", "return_item": True},
            [("updated_list", ["b"]), ("removed_item", "a")],
        ),
        TestVector({"list": [1], "index": 5}, [("error", "Index or value not found")]),
        TestVector({"list": [1], "value": 2}, [("error", "Index or value not found")]),
        TestVector({"list": [1]}, [("error", "Index or value not found")]),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        items = list(input_data.list)
        try:
            if input_data.index is not None:
                removed = items.pop(input_data.index)
            elif input_data.value is not None:
                items.remove(input_data.value)
                removed = input_data.value
            else:
                raise ValueError("neither index nor value is set")
        except (IndexError, ValueError):
            yield "error", "Index or value not found"
            return
        yield "updated_list", items
        if input_data.return_item:
            yield "removed_item", removed


class ListIsEmptyBlock(Block):
    id = "896ed73b-27d0-41be-813c-c1c1dc856c03"
    description = "Tells whether a list is empty."
    categories = ("BASIC",)
    isolation = Isolation.WORKER  # the list itself is author-sized

    class Input(BlockSchema):
        list: AnyList = Field(description="The list to check.")

    class Output(BlockSchema):
        is_empty: bool = Field(description="True when the list has no items.")

    test_vectors = (
        TestVector({"list": []}, [("is_empty", True)]),
        TestVector({"list": [1]}, [("is_empty", False)]),
        TestVector({"list": [None]}, [("is_empty", False)]),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        yield "is_empty", not input_data.list
