"""AutoGPT's typed agent inputs: AgentInputBlock with a typed ``value`` pin.

Each variant is an INPUT block like AgentInputBlock (static output; the run's
``inputs[name]`` feeds ``value``), and its ``value`` type is what a run's input is
checked against when the run is submitted. An input whose node has no default ``value``
(and whose block gives none) is required, as in AutoGPT.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from .base import BlockContext, BlockOutput, TestVector
from .basic import AgentInputBlock

_DEFAULT_VALUE = "The input's value (or its default)."


class AgentShortTextInputBlock(AgentInputBlock):
    id = "7fcd3bcb-8e1b-4e69-903d-32d3d4a92158"
    description = "An input of the graph: a single line of text."

    class Input(AgentInputBlock.Input):
        value: str | None = Field(
            default=None, description=_DEFAULT_VALUE, json_schema_extra={"format": "short-text"}
        )

    class Output(AgentInputBlock.Output):
        result: str = Field(description="The text.")

    test_vectors = (
        TestVector({"value": "Hello", "name": "short_text_1"}, [("result", "Hello")]),
        TestVector({"value": "", "name": "blank"}, [("result", "")]),
        TestVector({"name": "unset"}, []),
    )


class AgentLongTextInputBlock(AgentInputBlock):
    id = "90a56ffb-7024-4b2b-ab50-e26c5e5ab8ba"
    description = "An input of the graph: text that may span several lines."

    class Input(AgentInputBlock.Input):
        value: str | None = Field(
            default=None, description=_DEFAULT_VALUE, json_schema_extra={"format": "long-text"}
        )

    class Output(AgentInputBlock.Output):
        result: str = Field(description="The text.")

    test_vectors = (
        TestVector({"value": "line 1\nline 2", "name": "long"}, [("result", "line 1\nline 2")]),
    )


class AgentNumberInputBlock(AgentInputBlock):
    """A whole number, as in AutoGPT (whose number input is an integer)."""

    id = "96dae2bb-97a2-41c2-bd2f-13a3b5a8ea98"
    description = "An input of the graph: a whole number."

    class Input(AgentInputBlock.Input):
        value: int | None = Field(default=None, description=_DEFAULT_VALUE)

    class Output(AgentInputBlock.Output):
        result: int = Field(description="The number.")

    test_vectors = (
        TestVector({"value": 42, "name": "n"}, [("result", 42)]),
        TestVector({"value": "314", "name": "n"}, [("result", 314)]),
        TestVector({"value": 0, "name": "zero"}, [("result", 0)]),
    )


class _IsoTextInput(AgentInputBlock):
    """A date or time input: its parsed value flows on as ISO text, which is what
    AutoGPT's date and time objects become once stored."""

    async def run(self, input_data: Any, ctx: BlockContext) -> BlockOutput:
        if input_data.value is not None:
            yield "result", input_data.value.isoformat()


class AgentDateInputBlock(_IsoTextInput):
    id = "7e198b09-4994-47db-8b4d-952d98241817"
    description = "An input of the graph: a date (YYYY-MM-DD)."

    class Input(AgentInputBlock.Input):
        value: date | None = Field(default=None, description=_DEFAULT_VALUE)

    class Output(AgentInputBlock.Output):
        result: str = Field(description="The date as YYYY-MM-DD.")

    test_vectors = (
        TestVector({"value": "2025-03-19", "name": "d"}, [("result", "2025-03-19")]),
        TestVector({"value": "2023-12-31", "name": "d"}, [("result", "2023-12-31")]),
    )


class AgentTimeInputBlock(_IsoTextInput):
    id = "2a1c757e-86cf-4c7e-aacf-060dc382e434"
    description = "An input of the graph: a time of day (HH:MM:SS)."

    class Input(AgentInputBlock.Input):
        value: time | None = Field(default=None, description=_DEFAULT_VALUE)

    class Output(AgentInputBlock.Output):
        result: str = Field(description="The time as HH:MM:SS.")

    test_vectors = (
        TestVector({"value": "09:30:00", "name": "t"}, [("result", "09:30:00")]),
        TestVector({"value": "23:59:59", "name": "t"}, [("result", "23:59:59")]),
    )


class AgentFileInputBlock(AgentInputBlock):
    """A file reference: a data URI (``data:<type>;base64,...``) or a URL.

    Difference from AutoGPT: this server has no file store yet, so the reference is
    passed on as given (AutoGPT stores the file first and may download a URL); with
    ``base_64`` set, anything but a data URI is refused rather than downloaded.
    """

    id = "95ead23f-8283-4654-aef3-10c053b74a31"
    description = "An input of the graph: a file, as a data URI or URL."

    class Input(AgentInputBlock.Input):
        value: str | None = Field(
            default=None, description=_DEFAULT_VALUE, json_schema_extra={"format": "file"}
        )
        base_64: bool = Field(default=False, description="Require the file as a data URI.")

    class Output(AgentInputBlock.Output):
        result: str = Field(description="The file reference.")

    test_vectors = (
        TestVector(
            {"value": "data:image/png;base64,MQ==", "name": "f"},
            [("result", "data:image/png;base64,MQ==")],
        ),
        TestVector({"value": "", "name": "f"}, []),
        TestVector(
            {"value": "https://example.com/a.png", "name": "f", "base_64": True},
            [("error", "input 'f' must be a data URI (base_64 is set)")],
        ),
    )

    async def run(self, input_data: Any, ctx: BlockContext) -> BlockOutput:
        if not input_data.value:
            return
        if input_data.base_64 and not input_data.value.startswith("data:"):
            yield "error", f"input {input_data.name!r} must be a data URI (base_64 is set)"
            return
        yield "result", input_data.value


class AgentDropdownInputBlock(AgentInputBlock):
    """Text chosen from ``options`` (older graphs call them ``placeholder_values``).

    Like AutoGPT, the choice is offered, not enforced: a value outside the options passes.
    """

    id = "655d6fdf-a334-421c-b733-520549c07cd1"
    description = "An input of the graph: text chosen from a list of options."

    class Input(AgentInputBlock.Input):
        value: str | None = Field(default=None, description=_DEFAULT_VALUE)
        options: list[Any] = Field(
            default_factory=list,
            validation_alias=AliasChoices("options", "placeholder_values"),
            description="The choices offered (leave empty for free text).",
        )

    class Output(AgentInputBlock.Output):
        result: str = Field(description="The chosen text.")

    test_vectors = (
        TestVector(
            {"value": "Option A", "name": "d", "options": ["Option A", "Option B"]},
            [("result", "Option A")],
        ),
        TestVector(
            {"value": "Casual", "name": "d", "placeholder_values": ["Friendly", "Casual"]},
            [("result", "Casual")],
        ),
    )


class AgentToggleInputBlock(AgentInputBlock):
    """A yes/no switch. It defaults to false, so it is never a required input."""

    id = "cbf36ab5-df4a-43b6-8a7f-f7ed8652116e"
    description = "An input of the graph: a yes/no toggle."

    class Input(AgentInputBlock.Input):
        value: bool = Field(default=False, description=_DEFAULT_VALUE)

    class Output(AgentInputBlock.Output):
        result: bool = Field(description="The toggle's state.")

    test_vectors = (
        TestVector({"value": True, "name": "t"}, [("result", True)]),
        TestVector({"name": "t"}, [("result", False)]),
    )


class AgentTableInputBlock(AgentInputBlock):
    """Rows of a table, each a dictionary keyed by column header."""

    id = "5603b273-f41e-4020-af7d-fbc9c6a8d928"
    description = "An input of the graph: table rows, each a dictionary of column values."

    class Input(AgentInputBlock.Input):
        value: list[dict[str, Any]] | None = Field(default=None, description=_DEFAULT_VALUE)
        column_headers: list[str] = Field(
            default_factory=lambda: ["Column 1", "Column 2", "Column 3"],
            description="The table's columns.",
        )

    class Output(AgentInputBlock.Output):
        result: list[dict[str, Any]] = Field(description="The rows.")

    test_vectors = (
        TestVector(
            {
                "name": "people",
                "column_headers": ["Name", "Age"],
                "value": [{"Name": "John", "Age": "30"}, {"Name": "Jane", "Age": "25"}],
            },
            [("result", [{"Name": "John", "Age": "30"}, {"Name": "Jane", "Age": "25"}])],
        ),
        TestVector({"name": "empty"}, [("result", [])]),
    )

    async def run(self, input_data: Any, ctx: BlockContext) -> BlockOutput:
        yield "result", input_data.value if input_data.value is not None else []


class GoogleDriveFile(BaseModel):
    """A file picked in Google Drive (AutoGPT's shape, with its camelCase keys)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: str = Field(description="The Drive file or folder id.")
    name: str | None = None
    mime_type: str | None = Field(default=None, alias="mimeType")
    url: str | None = None
    icon_url: str | None = Field(default=None, alias="iconUrl")
    is_folder: bool | None = Field(default=None, alias="isFolder")
    credentials_id: str | None = Field(
        default=None, alias="_credentials_id", description="Which credential opened it."
    )


AttachmentView = Literal[
    "DOCS", "DOCUMENTS", "SPREADSHEETS", "PRESENTATIONS", "DOCS_IMAGES", "FOLDERS"
]


def _default_views() -> list[AttachmentView]:
    return ["DOCS", "SPREADSHEETS", "PRESENTATIONS"]


class AgentGoogleDriveFileInputBlock(AgentInputBlock):
    """A Google Drive file chosen with AutoGPT's picker; passed on with its camelCase keys."""

    id = "d3b32f15-6fd7-40e3-be52-e083f51b19a2"
    description = "An input of the graph: a file picked in Google Drive."

    class Input(AgentInputBlock.Input):
        value: GoogleDriveFile | None = Field(default=None, description=_DEFAULT_VALUE)
        allowed_views: list[AttachmentView] = Field(
            default_factory=_default_views,
            description="Which views the picker offers.",
        )
        allow_folder_selection: bool = Field(default=False, description="Allow folders.")

    class Output(AgentInputBlock.Output):
        result: dict[str, Any] = Field(description="The file: id, name, mimeType, url, ...")

    test_vectors = (
        TestVector(
            {"name": "sheet", "value": {"id": "f1", "name": "Plan", "mimeType": "text/csv"}},
            [("result", {"id": "f1", "name": "Plan", "mimeType": "text/csv"})],
        ),
    )

    async def run(self, input_data: Any, ctx: BlockContext) -> BlockOutput:
        if input_data.value is not None:
            yield "result", input_data.value.model_dump(by_alias=True, exclude_none=True)


AGENT_INPUT_VARIANTS = (
    AgentShortTextInputBlock,
    AgentLongTextInputBlock,
    AgentNumberInputBlock,
    AgentDateInputBlock,
    AgentTimeInputBlock,
    AgentFileInputBlock,
    AgentDropdownInputBlock,
    AgentToggleInputBlock,
    AgentTableInputBlock,
    AgentGoogleDriveFileInputBlock,
)
