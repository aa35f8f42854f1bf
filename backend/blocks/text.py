"""Text blocks: templates, regular expressions, joining, splitting and replacing."""

import json
from collections.abc import Iterator
from typing import Any

import regex
from pydantic import Field

from .base import Block, BlockContext, BlockSchema, TestVector
from .templates import render_template

# The regex engine stops a match that takes longer than this (catastrophic backtracking);
# the node's own time limit, which kills its worker, is the outer bound.
REGEX_TIMEOUT_SECONDS = 5.0


def _as_text(value: Any) -> str:
    """Regexes run on text; anything else is matched against its JSON form."""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def _regex_flags(case_sensitive: bool, dot_all: bool) -> int:
    flags = 0 if case_sensitive else regex.IGNORECASE
    return (flags | regex.DOTALL) if dot_all else flags


def _compile(pattern: str, flags: int) -> regex.Pattern[str]:
    # VERSION0: the semantics of Python's re module, which AutoGPT's blocks use.
    return regex.compile(pattern, flags | regex.VERSION0)


class FillTextTemplateBlock(Block):
    id = "db7d8f02-2f44-4c55-ab7a-eae0941f0c30"
    description = "Renders a sandboxed Jinja2 template with the given values."
    categories = ("TEXT",)

    class Input(BlockSchema):
        values: dict[str, Any] = Field(
            description="Variables for the template, e.g. {{ name }} reads values['name']."
        )
        format: str = Field(description="Jinja2 template text.")
        escape_html: bool = Field(default=False, description="HTML-escape the inserted values.")

    class Output(BlockSchema):
        output: str = Field(description="The rendered text.")

    test_vectors = (
        TestVector(
            {
                "values": {"name": "Alice", "hello": "Hello", "world": "World!"},
                "format": "{{hello}}, {{ world }} {{name}}",
            },
            [("output", "Hello, World! Alice")],
        ),
        TestVector(
            {
                "values": {"items": ["Hello", " World!"]},
                "format": "{% for item in items %}{{ item }}{% endfor %}",
            },
            [("output", "Hello World!")],
        ),
        TestVector(
            {"values": {}, "format": "{% set who = 'Bob' %}Hi {{ who }}{{ missing }}"},
            [("output", "Hi Bob")],
        ),
        TestVector(
            {"values": {"a": "<i>"}, "format": "{{ a }}", "escape_html": True},
            [("output", "&lt;i&gt;")],
        ),
    )

    def run(self, input_data: Input, ctx: BlockContext) -> Iterator[tuple[str, Any]]:
        try:
            text = render_template(
                input_data.format, input_data.values, input_data.escape_html, ctx.max_output_bytes
            )
        except Exception as exc:
            yield "error", f"template failed: {exc}"
            return
        yield "output", text


class MatchTextPatternBlock(Block):
    id = "3060088f-6ed9-4928-9ba7-9c92823a7ccd"
    description = "Routes data to `positive` or `negative` depending on a regex match."
    categories = ("TEXT",)

    class Input(BlockSchema):
        text: Any = Field(description="Text to search (non-text is searched as JSON).")
        match: str = Field(description="Regular expression to look for.")
        data: Any = Field(default=None, description="What to forward; `text` when unset.")
        case_sensitive: bool = Field(default=True, description="Match case exactly.")
        dot_all: bool = Field(default=True, description="Let '.' match newlines too.")

    class Output(BlockSchema):
        positive: Any = Field(description="The forwarded data when the pattern matched.")
        negative: Any = Field(description="The forwarded data when it did not.")

    test_vectors = (
        TestVector(
            {"text": "ABC", "match": "ab", "data": "X", "case_sensitive": False},
            [("positive", "X")],
        ),
        TestVector(
            {"text": "ABC", "match": "ab", "data": "Y", "case_sensitive": True},
            [("negative", "Y")],
        ),
        TestVector({"text": "Hello World!", "match": ".orld.+"}, [("positive", "Hello World!")]),
        TestVector({"text": {"k": 1}, "match": '"k": 1', "data": 7}, [("positive", 7)]),
        TestVector(
            {"text": "x", "match": "(", "data": 1},
            [("error", "invalid pattern: missing ) at position 1")],
        ),
    )

    def run(self, input_data: Input, ctx: BlockContext) -> Iterator[tuple[str, Any]]:
        forwarded = input_data.data if input_data.data is not None else input_data.text
        flags = _regex_flags(input_data.case_sensitive, input_data.dot_all)
        try:
            pattern = _compile(input_data.match, flags)
            found = pattern.search(_as_text(input_data.text), timeout=REGEX_TIMEOUT_SECONDS)
        except regex.error as exc:
            yield "error", f"invalid pattern: {exc}"
            return
        except TimeoutError:
            yield "error", f"pattern matching took longer than {REGEX_TIMEOUT_SECONDS:g} s"
            return
        yield ("positive" if found else "negative"), forwarded


class ExtractTextInformationBlock(Block):
    id = "3146e4fe-2cdd-4f29-bd12-0c9d5bb4deb0"
    description = "Extracts a regex group from text, from the first match or from all."
    categories = ("TEXT",)

    class Input(BlockSchema):
        text: Any = Field(description="Text to search (non-text is searched as JSON).")
        pattern: str = Field(description="Regular expression to look for.")
        group: int = Field(default=0, description="Group to extract; 0 is the whole match.")
        case_sensitive: bool = Field(default=True, description="Match case exactly.")
        dot_all: bool = Field(default=True, description="Let '.' match newlines too.")
        find_all: bool = Field(default=False, description="Extract every match, not the first.")

    class Output(BlockSchema):
        positive: str = Field(description="One extracted text, once per match.")
        negative: Any = Field(description="The original text when nothing matched.")
        matched_results: list[str] = Field(description="All extracted texts.")
        matched_count: int = Field(description="How many texts were extracted.")

    test_vectors = (
        TestVector(
            {"text": "Hello, World!", "pattern": "Hello, (.+)", "group": 1},
            [("positive", "World!"), ("matched_results", ["World!"]), ("matched_count", 1)],
        ),
        TestVector(
            {"text": "Hello, World!", "pattern": "Hello, (.+)", "group": 2},
            [("negative", "Hello, World!"), ("matched_results", []), ("matched_count", 0)],
        ),
        TestVector(
            {"text": "Hello, World!", "pattern": "hello,", "case_sensitive": False},
            [("positive", "Hello,"), ("matched_results", ["Hello,"]), ("matched_count", 1)],
        ),
        TestVector(
            {
                "text": "Hello, World!! Hello, Earth!!",
                "pattern": r"Hello, (\S+)",
                "group": 1,
                "find_all": True,
            },
            [
                ("positive", "World!!"),
                ("positive", "Earth!!"),
                ("matched_results", ["World!!", "Earth!!"]),
                ("matched_count", 2),
            ],
        ),
    )

    def run(self, input_data: Input, ctx: BlockContext) -> Iterator[tuple[str, Any]]:
        flags = _regex_flags(input_data.case_sensitive, input_data.dot_all)
        group = input_data.group
        try:
            compiled = _compile(input_data.pattern, flags)
        except regex.error as exc:
            yield "error", f"invalid pattern: {exc}"
            return
        results: list[str] = []
        if 0 <= group <= compiled.groups:
            try:
                for match in compiled.finditer(
                    _as_text(input_data.text), timeout=REGEX_TIMEOUT_SECONDS
                ):
                    extracted = match.group(group)
                    if extracted is None:  # an optional group that took no part
                        continue
                    results.append(extracted)
                    if not input_data.find_all:
                        break
            except TimeoutError:
                yield "error", f"pattern matching took longer than {REGEX_TIMEOUT_SECONDS:g} s"
                return
        for extracted in results:
            yield "positive", extracted
        if not results:
            yield "negative", input_data.text
        yield "matched_results", results
        yield "matched_count", len(results)


class CombineTextsBlock(Block):
    id = "e30a4d42-7b7d-4e6a-b36e-1f9b8e3b7d85"
    description = "Joins a list of texts with a delimiter."
    categories = ("TEXT",)

    class Input(BlockSchema):
        input: list[str] = Field(description="Texts to join, in order.")
        delimiter: str = Field(default="", description="Placed between consecutive texts.")

    class Output(BlockSchema):
        output: str = Field(description="The joined text.")

    test_vectors = (
        TestVector(
            {"input": ["Hello world I like ", "cake"]}, [("output", "Hello world I like cake")]
        ),
        TestVector(
            {"input": ["This is a test", "Hi!"], "delimiter": "! "},
            [("output", "This is a test! Hi!")],
        ),
    )

    def run(self, input_data: Input, ctx: BlockContext) -> Iterator[tuple[str, Any]]:
        yield "output", input_data.delimiter.join(input_data.input)


class TextSplitBlock(Block):
    id = "d5ea33c8-a575-477a-b42f-2fe3be5055ec"
    description = "Splits text into a list at every delimiter."
    categories = ("TEXT",)

    class Input(BlockSchema):
        text: str = Field(description="Text to split.")
        delimiter: str = Field(description="Where to split; must not be empty.")
        strip: bool = Field(default=True, description="Trim whitespace around each part.")

    class Output(BlockSchema):
        texts: list[str] = Field(description="The parts, in order.")

    test_vectors = (
        TestVector({"text": "Hello, World!", "delimiter": ","}, [("texts", ["Hello", "World!"])]),
        TestVector(
            {"text": "Hello, World!", "delimiter": ",", "strip": False},
            [("texts", ["Hello", " World!"])],
        ),
        TestVector({"text": "", "delimiter": ","}, [("texts", [])]),
        TestVector({"text": "a", "delimiter": ""}, [("error", "delimiter must not be empty")]),
    )

    def run(self, input_data: Input, ctx: BlockContext) -> Iterator[tuple[str, Any]]:
        if not input_data.delimiter:
            yield "error", "delimiter must not be empty"
            return
        if not input_data.text:
            yield "texts", []
            return
        parts = input_data.text.split(input_data.delimiter)
        yield "texts", [part.strip() for part in parts] if input_data.strip else parts


class TextReplaceBlock(Block):
    id = "7e7c87ab-3469-4bcc-9abe-67705091b713"
    description = "Replaces every occurrence of one text with another."
    categories = ("TEXT",)

    class Input(BlockSchema):
        text: str = Field(description="Text to edit.")
        old: str = Field(description="Text to look for.")
        new: str = Field(description="Replacement text.")

    class Output(BlockSchema):
        output: str = Field(description="The edited text.")

    test_vectors = (
        TestVector(
            {"text": "Hello, World!", "old": "Hello", "new": "Hi"}, [("output", "Hi, World!")]
        ),
        TestVector({"text": "a-b-c", "old": "-", "new": ""}, [("output", "abc")]),
    )

    def run(self, input_data: Input, ctx: BlockContext) -> Iterator[tuple[str, Any]]:
        text, old, new = input_data.text, input_data.old, input_data.new
        found = text.count(old)
        size = len(text) + found * (len(new) - len(old))
        if size > ctx.max_output_bytes:
            yield (
                "error",
                (
                    f"the result would be {size} characters, over the limit of "
                    f"{ctx.max_output_bytes} per output value"
                ),
            )
            return
        yield "output", text.replace(old, new)
