"""XMLParserBlock: XML text to a dictionary, shaped the way AutoGPT's parser shapes it.

The text comes from graph authors (often straight from an LLM), so parsing is defused:
DTDs, entity declarations and external references are refused outright (no billion
laughs, no reading local files), the input has a size limit and the nesting a depth limit.
"""

from __future__ import annotations

import re
from io import BytesIO
from typing import Any
from xml.sax import SAXParseException
from xml.sax.handler import ContentHandler
from xml.sax.xmlreader import InputSource

import defusedxml
import defusedxml.sax
from pydantic import Field

from .base import Block, BlockContext, BlockOutput, BlockSchema, Isolation, TestVector

MAX_XML_CHARS = 10 * 1024 * 1024  # AutoGPT's limit
MAX_XML_DEPTH = 256

# A bare '&' that starts no character or entity reference: LLMs write "Tom & Jerry", and
# AutoGPT's parser takes it as text, so it is escaped rather than refused.
_BARE_AMPERSAND = re.compile(r"&(?!(?:[A-Za-z_][\w.-]*|#[0-9]+|#x[0-9A-Fa-f]+);)")


class XMLRefused(ValueError):
    """The document is not acceptable (too large or too deep)."""


class _Element:
    __slots__ = ("children", "tag", "text")

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.children: list[_Element] = []
        self.text: list[str] = []

    def to_dict(self) -> dict[str, Any]:
        """One element as ``{tag: value}``: its stripped text when it has no children,
        else its children merged into a dict, or listed when two share a tag."""
        if not self.children:
            return {self.tag: "".join(self.text)}
        if len(self.children) == 1:
            return {self.tag: self.children[0].to_dict()}
        tags = [child.tag for child in self.children]
        if len(set(tags)) < len(tags):
            return {self.tag: [child.to_dict() for child in self.children]}
        merged: dict[str, Any] = {}
        for child in self.children:
            merged.update(child.to_dict())
        return {self.tag: merged}


class _TreeBuilder(ContentHandler):
    """Builds the element tree from SAX events; text is kept in stripped pieces split at
    tags, like AutoGPT's tokenizer does. Attributes are not kept."""

    def __init__(self) -> None:
        super().__init__()
        self.root: _Element | None = None
        self._stack: list[_Element] = []
        self._pending: list[str] = []

    def _flush_text(self) -> None:
        if self._stack and (piece := "".join(self._pending).strip()):
            self._stack[-1].text.append(piece)
        self._pending = []

    def startElement(self, name: str, attrs: Any) -> None:
        self._flush_text()
        if len(self._stack) >= MAX_XML_DEPTH:
            raise XMLRefused(f"XML nesting exceeds the maximum depth of {MAX_XML_DEPTH}")
        element = _Element(name.lower())
        if self._stack:
            self._stack[-1].children.append(element)
        else:
            self.root = element
        self._stack.append(element)

    def endElement(self, name: str) -> None:
        self._flush_text()
        self._stack.pop()

    def characters(self, content: str) -> None:
        self._pending.append(content)


# A document's XML declaration, which may only open a document: dropped before the text
# is wrapped in a synthetic root (see parse_xml).
_DECLARATION = re.compile(r"\A\s*<\?xml[^>]*\?>")
_WRAPPER = "xml-parser-roots"


def _parse(text: str) -> _TreeBuilder:
    builder = _TreeBuilder()
    parser = defusedxml.sax.make_parser()
    parser.setContentHandler(builder)
    parser.forbid_dtd = True
    parser.forbid_entities = True
    parser.forbid_external = True
    source = InputSource()
    source.setByteStream(BytesIO(text.encode()))
    # The bytes are UTF-8 whatever the XML declaration says: the text is already decoded.
    source.setEncoding("utf-8")
    parser.parse(source)
    return builder


def _invalid(exc: SAXParseException, shift: int = 0) -> XMLRefused:
    """The parser's complaint with its place in the author's text (``shift`` characters
    were put before its first line)."""
    line, column = exc.getLineNumber() or 0, exc.getColumnNumber() or 0
    if line == 1:
        column = max(0, column - shift)
    return XMLRefused(f"invalid XML: {exc.getMessage()} (line {line}, column {column})")


def _several_roots(text: str) -> dict[str, Any]:
    """A text of several top-level elements, as LLMs answer prompts that ask for sibling
    tags (``<title>..</title><body>..</body>``): AutoGPT's parser library merges them into
    one dict, and the agents AutoGPT ships rely on it. Text between them is dropped."""
    prefix = f"<{_WRAPPER}>"
    try:
        builder = _parse(prefix + _DECLARATION.sub("", text) + f"</{_WRAPPER}>")
    except SAXParseException as exc:
        raise _invalid(exc, shift=len(prefix)) from None
    assert builder.root is not None  # the wrapper is always there
    merged: dict[str, Any] = {}
    for element in builder.root.children:
        if element.tag in merged:
            raise XMLRefused(
                f"XML has several top-level <{element.tag}> elements; "
                "wrap them in one element to get a list"
            )
        merged.update(element.to_dict())
    return merged


def parse_xml(text: str) -> dict[str, Any]:
    """Parse ``text``; raises ``XMLRefused`` or ``defusedxml.DefusedXmlException``."""
    if len(text) > MAX_XML_CHARS:
        raise XMLRefused(f"XML is too large: {len(text)} characters (limit {MAX_XML_CHARS})")
    text = _BARE_AMPERSAND.sub("&amp;", text)
    try:
        builder = _parse(text)
    except SAXParseException as exc:
        if exc.getMessage() != "junk after document element":
            raise _invalid(exc) from None
        return _several_roots(text)
    if builder.root is None:  # expat reports a missing root itself; kept for the types
        raise XMLRefused("XML has no root element")
    return builder.root.to_dict()


class XMLParserBlock(Block):
    """Parses XML into a dictionary with AutoGPT's shape: ``<a><b>x</b></a>`` becomes
    ``{"a": {"b": "x"}}``, repeated sibling tags become a list of one-key dicts, tag names
    are lower-cased and text is stripped.

    Differences from AutoGPT (which uses its own tolerant tokenizer): the XML must be
    well-formed (except that a bare ``&`` is read as text); entities such as ``&amp;`` are
    decoded; attributes are dropped instead of being folded into the tag name; an XML
    declaration is accepted; and any DTD is refused, so entity expansion and external
    entities can never happen. Several top-level elements with distinct tags merge into
    one dict, as the parser library AutoGPT's agents were built on does (AutoGPT's block
    now refuses them, which stops three of its own shipped agents).
    """

    id = "286380af-9529-4b55-8be0-1d7c854abdb5"
    description = "Parses XML text into a dictionary."
    categories = ("DATA",)
    isolation = Isolation.WORKER  # parsing author-sized text

    class Input(BlockSchema):
        input_xml: str = Field(description="The XML text to parse.")

    class Output(BlockSchema):
        parsed_xml: dict[str, Any] = Field(description="The XML as a dictionary.")

    test_vectors = (
        TestVector(
            {"input_xml": "<tag1><tag2>content</tag2></tag1>"},
            [("parsed_xml", {"tag1": {"tag2": "content"}})],
        ),
        TestVector(
            {"input_xml": "<list><item> a </item><item>b</item></list>"},
            [("parsed_xml", {"list": [{"item": "a"}, {"item": "b"}]})],
        ),
        TestVector(
            {
                "input_xml": '<?xml version="1.0"?><Post id="7"><Title>Tom & Jerry</Title>'
                "<body>x &lt; y</body></Post>"
            },
            [("parsed_xml", {"post": {"title": "Tom & Jerry", "body": "x < y"}})],
        ),
        TestVector({"input_xml": "<empty/>"}, [("parsed_xml", {"empty": ""})]),
        TestVector(
            {"input_xml": '<!DOCTYPE a [<!ENTITY x "boom">]><a>&x;</a>'},
            [("error", "XML with a DTD is refused: DTDs and entity declarations are not allowed")],
        ),
        TestVector(
            {"input_xml": "<a><b></a>"},
            [("error", "invalid XML: mismatched tag (line 1, column 8)")],
        ),
        TestVector(
            {"input_xml": '<?xml version="1.0"?>\n<a>1</a> and <b><c>2</c></b>'},
            [("parsed_xml", {"a": "1", "b": {"c": "2"}})],
        ),
        TestVector(
            {"input_xml": "<a>1</a><a>2</a>"},
            [
                (
                    "error",
                    "XML has several top-level <a> elements; "
                    "wrap them in one element to get a list",
                )
            ],
        ),
        TestVector(
            {"input_xml": "<a>1</a><b>2</c>"},
            [("error", "invalid XML: mismatched tag (line 1, column 14)")],
        ),
    )

    async def run(self, input_data: Input, ctx: BlockContext) -> BlockOutput:
        try:
            parsed = parse_xml(input_data.input_xml)
        except XMLRefused as exc:
            yield "error", str(exc)
            return
        except defusedxml.DefusedXmlException:
            yield (
                "error",
                ("XML with a DTD is refused: DTDs and entity declarations are not allowed"),
            )
            return
        yield "parsed_xml", parsed
