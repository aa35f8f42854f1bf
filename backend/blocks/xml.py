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


def parse_xml(text: str) -> dict[str, Any]:
    """Parse ``text``; raises ``XMLRefused``, ``defusedxml.DefusedXmlException`` or
    ``SAXParseException``."""
    if len(text) > MAX_XML_CHARS:
        raise XMLRefused(f"XML is too large: {len(text)} characters (limit {MAX_XML_CHARS})")
    builder = _TreeBuilder()
    parser = defusedxml.sax.make_parser()
    parser.setContentHandler(builder)
    parser.forbid_dtd = True
    parser.forbid_entities = True
    parser.forbid_external = True
    source = InputSource()
    source.setByteStream(BytesIO(_BARE_AMPERSAND.sub("&amp;", text).encode()))
    # The bytes are UTF-8 whatever the XML declaration says: the text is already decoded.
    source.setEncoding("utf-8")
    parser.parse(source)
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
    entities can never happen.
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
            {"input_xml": "<a>1</a><b>2</b>"},
            [("error", "invalid XML: junk after document element (line 1, column 8)")],
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
        except SAXParseException as exc:
            yield (
                "error",
                (
                    f"invalid XML: {exc.getMessage()} "
                    f"(line {exc.getLineNumber()}, column {exc.getColumnNumber()})"
                ),
            )
            return
        yield "parsed_xml", parsed
