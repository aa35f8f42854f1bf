"""Basic blocks: constants, graph inputs and outputs, debugging and canvas notes."""

from typing import Any, ClassVar

from pydantic import Field

from .base import Block, BlockContext, BlockOutput, BlockSchema, BlockType, Isolation, TestVector
from .templates import render_template


class StoreValueBlock(Block):
    id = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
    isolation = Isolation.INLINE
    description = "Passes a value on unchanged; its output can be reused by every later run."
    categories = ("BASIC",)
    static_output = True

    class Input(BlockSchema):
        input: Any = Field(description="Triggers the block; forwarded when `data` is unset.")
        data: Any = Field(default=None, description="Constant to forward instead of `input`.")

    class Output(BlockSchema):
        output: Any = Field(description="`data` if it is set, otherwise `input`.")

    test_vectors = (
        TestVector({"input": "Hello, World!"}, [("output", "Hello, World!")]),
        TestVector(
            {"input": "Hello, World!", "data": "Existing Data"}, [("output", "Existing Data")]
        ),
        TestVector({"input": {"a": [1, 2]}}, [("output", {"a": [1, 2]})]),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        yield "output", input_data.data if input_data.data is not None else input_data.input


class PrintToConsoleBlock(Block):
    id = "f3b1c1b2-4c4f-4f0d-8d2f-4c4f0d8d2f4c"
    isolation = Isolation.INLINE
    description = "Writes a value to the server log, for debugging."
    categories = ("BASIC",)

    class Input(BlockSchema):
        text: Any = Field(description="What to log.")

    class Output(BlockSchema):
        output: Any = Field(description="The logged value, unchanged.")
        status: str = Field(description="Always 'printed'.")

    test_vectors = (
        TestVector({"text": "Hello, World!"}, [("output", "Hello, World!"), ("status", "printed")]),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        ctx.logger.info(
            "PrintToConsole node=%s run=%s: %s", ctx.node_id, ctx.run_id, input_data.text
        )
        yield "output", input_data.text
        yield "status", "printed"


class NoteBlock(Block):
    id = "cc10ff7b-7753-4ff2-9af6-9399b1a7eddc"
    isolation = Isolation.INLINE
    description = "A sticky note on the canvas; the engine never runs it."
    categories = ("BASIC",)
    block_type = BlockType.NOTE

    class Input(BlockSchema):
        text: str = Field(description="The note's text.")

    class Output(BlockSchema):
        output: str = Field(description="The note's text.")

    test_vectors = (TestVector({"text": "Hello, World!"}, [("output", "Hello, World!")]),)

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        yield "output", input_data.text


class AgentInputBlock(Block):
    id = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
    isolation = Isolation.INLINE
    description = "An input of the graph: the run's input of the same name enters here."
    categories = ("INPUT", "BASIC")
    block_type = BlockType.INPUT
    isolation = Isolation.INLINE  # passes its validated value on; the typed variants too
    static_output = True

    class Input(BlockSchema):
        name: str = Field(description="Name of the graph input this block receives.")
        value: Any = Field(default=None, description="The input's value (or its default).")
        title: str | None = Field(default=None, description="Label shown to users.")
        description: str | None = Field(default=None, description="Help text for users.")
        advanced: bool = Field(default=False, description="Hide under advanced options.")
        secret: bool = Field(default=False, description="Treat the value as a secret.")

    class Output(BlockSchema):
        result: Any = Field(description="The input's value.")

    test_vectors: ClassVar[tuple[TestVector, ...]] = (
        TestVector(
            {"name": "input_1", "value": "Hello, World!", "description": "A test input."},
            [("result", "Hello, World!")],
        ),
        TestVector({"name": "input_2", "value": 0}, [("result", 0)]),
        TestVector({"name": "unset"}, []),  # no value: nothing flows on
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        if input_data.value is not None:
            yield "result", input_data.value


class AgentOutputBlock(Block):
    """Records a value as a graph output. As in AutoGPT, ``name`` is yielded only when no
    ``format`` is set (a formatted output yields just ``output``).

    Difference from AutoGPT: a template that fails (or breaks the sandbox) fails the node,
    where AutoGPT records "Error: ..." text as the graph's output.
    """

    id = "363ae599-353e-4804-937e-b2ee3cef3da4"
    isolation = Isolation.INLINE
    description = "An output of the graph: every value it receives is recorded under its name."
    categories = ("OUTPUT", "BASIC")
    block_type = BlockType.OUTPUT

    class Input(BlockSchema):
        value: Any = Field(default=None, description="The value to record.")
        name: str = Field(description="Name of the graph output.")
        title: str | None = Field(default=None, description="Label shown to users.")
        description: str | None = Field(default=None, description="Help text for users.")
        format: str = Field(
            default="",
            description="Optional Jinja2 template; `{{ <name> }}` stands for the value.",
        )
        escape_html: bool = Field(
            default=False, description="HTML-escape the value inserted by `format`."
        )
        advanced: bool = Field(default=False, description="Hide under advanced options.")
        secret: bool = Field(default=False, description="Treat the value as a secret.")

    class Output(BlockSchema):
        output: Any = Field(description="The value, formatted when `format` is set.")
        name: str = Field(description="The output's name.")

    test_vectors = (
        TestVector(
            {"value": "Hello, World!", "name": "output_1", "format": "{{ output_1 }}!!"},
            [("output", "Hello, World!!!")],
        ),
        TestVector({"value": 42, "name": "answer"}, [("output", 42), ("name", "answer")]),
        TestVector(
            {"value": "<b>hi</b>", "name": "html", "format": "{{ html }}", "escape_html": True},
            [("output", "&lt;b&gt;hi&lt;/b&gt;")],
        ),
        TestVector(
            {"value": 1, "name": "o", "format": "{{ o.__class__ }}"},
            [
                (
                    "error",
                    "format template failed: access to attribute '__class__' of 'int' "
                    "object is unsafe",
                )
            ],
        ),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        if not input_data.format:
            yield "output", input_data.value
            yield "name", input_data.name
            return
        try:
            # A user's template: rendered off the event loop, under the node's limits.
            formatted = await ctx.compute(
                render_template,
                input_data.format,
                {input_data.name: input_data.value},
                input_data.escape_html,
                ctx.max_output_bytes,
            )
        except Exception as exc:
            yield "error", f"format template failed: {exc}"
            return
        yield "output", formatted
