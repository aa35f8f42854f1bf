"""The built-in blocks: their own examples, their schemas, their ids and failure paths."""

from __future__ import annotations

import json
import logging
import math
import re
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from importlib.metadata import EntryPoint
from ipaddress import ip_address
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import Field

from backend.blocks import (
    ENTRY_POINT_GROUP,
    all_blocks,
    get_block,
    load_entry_points,
    register_block,
    unregister_block,
)
from backend.blocks.base import Block, BlockContext, BlockSchema, BlockType, TestVector
from backend.blocks.basic import AgentInputBlock, AgentOutputBlock, NoteBlock, StoreValueBlock
from backend.blocks.dates import GetCurrentTimeBlock
from backend.blocks.maths import CalculatorBlock
from backend.blocks.text import FillTextTemplateBlock
from backend.blocks.web import SendWebRequestBlock
from backend.providers.network import blocked_reason
from tests.http_server import serving
from tests.run_blocks import run_block

# The compatibility contract: AutoGPT's ids for the core set, plus our own WaitBlock.
AUTOGPT_BLOCK_IDS = {
    "1ff065e9-88e8-4358-9d82-8dc91f622ba9": "StoreValueBlock",
    "f3b1c1b2-4c4f-4f0d-8d2f-4c4f0d8d2f4c": "PrintToConsoleBlock",
    "cc10ff7b-7753-4ff2-9af6-9399b1a7eddc": "NoteBlock",
    "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b": "AgentInputBlock",
    "363ae599-353e-4804-937e-b2ee3cef3da4": "AgentOutputBlock",
    "db7d8f02-2f44-4c55-ab7a-eae0941f0c30": "FillTextTemplateBlock",
    "3060088f-6ed9-4928-9ba7-9c92823a7ccd": "MatchTextPatternBlock",
    "3146e4fe-2cdd-4f29-bd12-0c9d5bb4deb0": "ExtractTextInformationBlock",
    "e30a4d42-7b7d-4e6a-b36e-1f9b8e3b7d85": "CombineTextsBlock",
    "d5ea33c8-a575-477a-b42f-2fe3be5055ec": "TextSplitBlock",
    "7e7c87ab-3469-4bcc-9abe-67705091b713": "TextReplaceBlock",
    "b1ab9b19-67a6-406d-abf5-2dba76d00c79": "CalculatorBlock",
    "3c9c2f42-b0c3-435f-ba35-05f7a25c772a": "CountItemsBlock",
    "715696a0-e1da-45c8-b209-c2fa9c3b0be6": "ConditionBlock",
    "b924ddf4-de4f-4b56-9a85-358930dcbc91": "CreateDictionaryBlock",
    "31d1064e-7446-4693-a7d4-65e5ca1180d1": "AddToDictionaryBlock",
    "0e50422c-6dee-4145-83d6-3a5a392f65de": "FindInDictionaryBlock",
    "a912d5c7-6e00-4542-b2a9-8034136930e4": "CreateListBlock",
    "aeb08fc1-2fc1-4141-bc8e-f758f183a822": "AddToListBlock",
    "f66a3543-28d3-4ab5-8945-9b336371e2ce": "StepThroughItemsBlock",
    "a892b8d9-3e4e-4e9c-9c1e-75f8efcf1bfa": "GetCurrentTimeBlock",
    "6595ae1f-b924-42cb-9a41-551a0611c4b4": "SendWebRequestBlock",
    "1f292d4a-41a4-4977-9684-7c8d560b9f91": "AITextGeneratorBlock",
    "ed55ac19-356e-4243-a6cb-bc599e9b716f": "AIStructuredResponseGeneratorBlock",
    "9c0b0450-d199-458b-a731-072189dd6593": "AIListGeneratorBlock",
    "a0a69be1-4528-491c-a85a-a4ab6873e3f0": "AITextSummarizerBlock",
    "32a87eab-381e-4dd4-bdb8-4c47151be35a": "AIConversationBlock",
    "3b191d9f-356f-482d-8238-ba04b6d18381": "OrchestratorBlock",
}
# AutoGPT's offline data blocks and its typed agent inputs.
AUTOGPT_DATA_BLOCK_IDS = {
    "95d1b990-ce13-4d88-9737-ba5c2070c97b": "UniversalTypeConverterBlock",
    "286380af-9529-4b55-8be0-1d7c854abdb5": "XMLParserBlock",
    "b29c1b50-5d0e-4d9f-8f9d-1b0e6fcbf0b1": "GetCurrentDateBlock",
    "716a67b3-6760-42e7-86dc-18645c6e00fc": "GetCurrentDateAndTimeBlock",
    "d93c5a93-ac7e-41c1-ae5c-ef67e6e9b826": "RemoveFromListBlock",
    "262ca24c-1025-43cf-a578-534e23234e97": "GetListItemBlock",
    "896ed73b-27d0-41be-813c-c1c1dc856c03": "ListIsEmptyBlock",
    "6dbbc4b3-ca6c-42b6-b508-da52d23e13f2": "IfInputMatchesBlock",
    "d67a9c52-5e4e-11e2-bcfd-0800200c9a71": "CountdownTimerBlock",
    "7fcd3bcb-8e1b-4e69-903d-32d3d4a92158": "AgentShortTextInputBlock",
    "90a56ffb-7024-4b2b-ab50-e26c5e5ab8ba": "AgentLongTextInputBlock",
    "96dae2bb-97a2-41c2-bd2f-13a3b5a8ea98": "AgentNumberInputBlock",
    "7e198b09-4994-47db-8b4d-952d98241817": "AgentDateInputBlock",
    "2a1c757e-86cf-4c7e-aacf-060dc382e434": "AgentTimeInputBlock",
    "95ead23f-8283-4654-aef3-10c053b74a31": "AgentFileInputBlock",
    "655d6fdf-a334-421c-b733-520549c07cd1": "AgentDropdownInputBlock",
    "cbf36ab5-df4a-43b6-8a7f-f7ed8652116e": "AgentToggleInputBlock",
    "5603b273-f41e-4020-af7d-fbc9c6a8d928": "AgentTableInputBlock",
    "d3b32f15-6fd7-40e3-be52-e083f51b19a2": "AgentGoogleDriveFileInputBlock",
    "e189baac-8c20-45a1-94a7-55177ea42565": "AgentExecutorBlock",
    "1d055e55-a2b9-4547-8311-907d05b0304d": "PersistInformationBlock",
    "d8710fc9-6e29-481e-a7d5-165eb16f8471": "RetrieveInformationBlock",
}
# AutoGPT's media and code service blocks.
AUTOGPT_MEDIA_BLOCK_IDS = {
    "6ab085e2-20b3-4055-bc3e-08036e01eca6": "IdeogramModelBlock",
    "90f8c45e-e983-4644-aa0b-b4ebe2f531bc": "ReplicateFluxAdvancedModelBlock",
    "ed1ae7a0-b770-4089-b520-1f0005fad19a": "AIImageGeneratorBlock",
    "361697fb-0c4f-4feb-aed3-8320c88c771b": "AIShortformVideoCreatorBlock",
    "0b02b072-abe7-11ef-8372-fb5d162dd712": "ExecuteCodeBlock",
}
# AutoGPT's web search, scraping and transcript service blocks.
AUTOGPT_WEB_BLOCK_IDS = {
    "87840993-2053-44b7-8da4-187ad4ee518c": "SearchTheWebBlock",
    "436c3984-57fd-4b85-8e9a-459b356883bd": "ExtractWebsiteContentBlock",
    "f47ac10b-58cc-4372-a567-0e02b2c3d479": "GoogleMapsSearchBlock",
    "f0f43e2b-c943-48a0-a7f1-40136ca4d3b9": "FirecrawlMapWebsiteBlock",
    "bdbbaba0-03b7-4971-970e-699e2de6015e": "FirecrawlCrawlBlock",
    "d1774756-4d9e-40e6-bab1-47ec0ccd81b2": "FirecrawlExtractBlock",
    "f3a8f7e1-4b1d-4e5f-9f2a-7c3d5a2e6b4c": "TranscribeYoutubeVideoBlock",
    "73c3e7c4-2b3f-4e9f-9e3e-8f7a5c3e2d45": "DataForSeoKeywordSuggestionsBlock",
    "8f2e4d6a-1b3c-4a5e-9d7f-2c8e6a4b3f1d": "DataForSeoRelatedKeywordsBlock",
    "f59b88a8-54ce-4676-a508-fd614b4e8dce": "AirtableCreateBaseBlock",
    "42527e98-47b6-44ce-ac0e-86b4883721d3": "AirtableCreateRecordsBlock",
    "25310c70-b89b-43ba-b25c-4dfa7e2a481c": "GmailReadBlock",
    "6c27abc2-e51d-499e-a85f-5a0041ba94f0": "GmailSendBlock",
    "f884b2fb-04f4-4265-9658-14f433926ac9": "GmailAddLabelBlock",
    "12bf5a24-9b90-4f40-9090-4e86e6995e60": "GmailReplyBlock",
    "64d2301c-b3f5-4174-8ac0-111ca1e1a7c0": "GmailForwardBlock",
    "80bc3ed1-e9a4-449e-8163-a8fc86f74f6a": "GoogleCalendarReadEventsBlock",
    "ee4fe08c-18f9-442f-a985-235379b932e1": "WordPressCreatePostBlock",
}
OWN_BLOCK_IDS = {"0c4a7902-fb25-4abf-a256-136f29ba2dc4": "WaitBlock"}

BUILTINS = {
    block_id: block
    for block_id, block in all_blocks().items()
    if type(block).__module__.startswith("backend.blocks.")
}


def typed(outputs: list[tuple[str, Any]]) -> list[tuple[str, Any, type]]:
    """Outputs with their value types, so 15 and 15.0 or 1 and True do not pass as equal."""
    return [(pin, value, type(value)) for pin, value in outputs]


# -- every block's own examples ------------------------------------------------------


@pytest.mark.parametrize("block", BUILTINS.values(), ids=lambda b: b.name)
def test_block_test_vectors(block: Block) -> None:
    assert block.test_vectors, f"{block.name} has no test vectors"
    for vector in block.test_vectors:
        outputs = run_block(block, vector.input)
        assert typed(outputs) == typed(vector.output), f"{block.name} {vector.input}"
        assert {pin for pin, _ in outputs} <= block.output_pins()


@pytest.mark.parametrize("block", BUILTINS.values(), ids=lambda b: b.name)
def test_block_schemas_are_valid_json_schema(block: Block) -> None:
    description = block.schema()
    json.dumps(description)  # served as-is by the API
    for schema in (description["input_schema"], description["output_schema"]):
        Draft202012Validator.check_schema(schema)
    required = set(description["input_schema"].get("required", []))
    assert required == block.Input.required_pins()
    assert block.description and block.categories


def test_block_ids_match_the_autogpt_table() -> None:
    autogpt = (
        AUTOGPT_BLOCK_IDS | AUTOGPT_DATA_BLOCK_IDS | AUTOGPT_MEDIA_BLOCK_IDS | AUTOGPT_WEB_BLOCK_IDS
    )
    assert {i: b.name for i, b in BUILTINS.items()} == autogpt | OWN_BLOCK_IDS
    for block_id, name in autogpt.items():
        block = get_block(block_id)
        assert block is not None and block.name == name
    assert get_block("00000000-0000-0000-0000-000000000000") is None


def test_special_block_kinds() -> None:
    assert AgentInputBlock.block_type is BlockType.INPUT and AgentInputBlock.static_output
    assert AgentOutputBlock.block_type is BlockType.OUTPUT
    assert NoteBlock.block_type is BlockType.NOTE
    assert StoreValueBlock.static_output
    assert CalculatorBlock.block_type is BlockType.STANDARD


# -- failure paths ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "a", "b", "expected"),
    [
        ("Divide", 5, 0, math.inf),
        ("Divide", 0, 0, math.inf),
        ("Power", 0, -1, math.inf),
    ],
)
def test_calculator_division_by_zero_is_infinite(
    operation: str, a: float, b: float, expected: float
) -> None:
    for round_result in (False, True):
        data = {"operation": operation, "a": a, "b": b, "round_result": round_result}
        assert run_block(CalculatorBlock(), data) == [("result", expected)]


@pytest.mark.parametrize(("a", "b"), [(-8, 0.5), (10, 400)])  # complex result, overflow
def test_calculator_other_math_errors_are_nan(a: float, b: float) -> None:
    [(pin, value)] = run_block(CalculatorBlock(), {"operation": "Power", "a": a, "b": b})
    assert pin == "result" and math.isnan(value)


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ values.__class__.__init__.__globals__ }}",
        "{% for c in ''.__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
        "{{ 'x' * 100000000 }}",
    ],
)
def test_fill_text_template_refuses_unsafe_templates(template: str) -> None:
    outputs = run_block(FillTextTemplateBlock(), {"values": {"a": 1}, "format": template})
    assert [pin for pin, _ in outputs] == ["error"]


def test_fill_text_template_reports_broken_templates() -> None:
    outputs = run_block(FillTextTemplateBlock(), {"values": {}, "format": "{% for %}"})
    assert [pin for pin, _ in outputs] == ["error"]


def test_current_time_defaults_to_hours_minutes_seconds() -> None:
    [(pin, value)] = run_block(GetCurrentTimeBlock(), {"trigger": "go"})
    assert pin == "time" and re.fullmatch(r"\d\d:\d\d:\d\d", value)


# -- SendWebRequestBlock ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/",
        "http://localhost:9/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0:9/",
    ],
)
def test_web_request_refuses_internal_targets_by_default(url: str) -> None:
    [(pin, message)] = run_block(SendWebRequestBlock(), {"url": url, "method": "GET"})
    assert pin == "error"
    assert "private network access is disabled" in message


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("169.254.1.1", "link-local"),
        ("172.16.0.5", "private"),
        ("fd00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("100.64.0.1", "non-public"),
        ("224.0.0.1", "non-public"),
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_blocked_reason(address: str, reason: str | None) -> None:
    assert blocked_reason(ip_address(address)) == reason


class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else None
        routes: dict[str, tuple[int, str, str]] = {
            "/ok": (200, "application/json", json.dumps({"method": self.command, "body": body})),
            "/text": (200, "text/plain", "plain words"),
            "/missing": (404, "application/json", json.dumps({"error": "not found"})),
            "/boom": (500, "text/plain", "it broke"),
        }
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, content_type, text = routes[self.path]
        payload = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


@pytest.fixture(scope="module")
def local_server() -> Iterator[str]:
    with serving(_Handler) as url:
        yield url


ALLOW_PRIVATE = BlockContext(allow_private_network=True)


def test_web_request_refuses_a_real_local_server_by_default(local_server: str) -> None:
    [(pin, _)] = run_block(SendWebRequestBlock(), {"url": f"{local_server}/ok"})
    assert pin == "error"


def test_web_request_2xx_is_response(local_server: str) -> None:
    block = SendWebRequestBlock()
    outputs = run_block(block, {"url": f"{local_server}/ok", "body": {"a": 1}}, ALLOW_PRIVATE)
    assert outputs == [("response", {"method": "POST", "body": '{"a": 1}'})]

    outputs = run_block(block, {"url": f"{local_server}/text", "method": "GET"}, ALLOW_PRIVATE)
    assert outputs == [("response", "plain words")]

    outputs = run_block(block, {"url": f"{local_server}/redirect", "method": "GET"}, ALLOW_PRIVATE)
    assert outputs == [("response", {"method": "GET", "body": None})]


def test_web_request_sends_non_json_bodies_as_text(local_server: str) -> None:
    data = {"url": f"{local_server}/ok", "method": "PUT", "body": "not json"}
    outputs = run_block(SendWebRequestBlock(), data, ALLOW_PRIVATE)
    assert outputs == [("response", {"method": "PUT", "body": "not json"})]


def test_web_request_4xx_is_client_error(local_server: str) -> None:
    data = {"url": f"{local_server}/missing", "method": "GET"}
    outputs = run_block(SendWebRequestBlock(), data, ALLOW_PRIVATE)
    assert outputs == [("client_error", {"error": "not found"})]


def test_web_request_5xx_is_server_error(local_server: str) -> None:
    data = {"url": f"{local_server}/boom", "method": "GET"}
    outputs = run_block(SendWebRequestBlock(), data, ALLOW_PRIVATE)
    assert outputs == [("server_error", "it broke")]


def test_web_request_connection_failure_is_error() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = {"url": f"http://127.0.0.1:{port}/", "method": "GET"}
    [(pin, message)] = run_block(SendWebRequestBlock(), data, ALLOW_PRIVATE)
    assert pin == "error" and "failed" in message


# -- the registry ----------------------------------------------------------------------


class EchoPluginBlock(Block):
    id = "5d3c2a9e-4b0f-4f6e-9d7a-1c2b3a4d5e6f"
    description = "A third-party block used by the registry tests."
    categories = ("BASIC",)

    class Input(BlockSchema):
        text: str = Field(description="Echoed back.")

    class Output(BlockSchema):
        echo: str = Field(description="The text.")

    test_vectors = (TestVector({"text": "hi"}, [("echo", "hi")]),)

    async def run(self, input_data: Input, ctx: BlockContext) -> Any:
        yield "echo", input_data.text


class ImpostorBlock(EchoPluginBlock):
    """Another class claiming the plugin's id."""


class NotABlock:
    id = "6e4d3b0f-5c1a-4a7f-8e8b-2d3c4b5e6f70"


@pytest.fixture
def clean_plugin() -> Iterator[None]:
    yield
    unregister_block(EchoPluginBlock.id)


def test_registered_plugin_appears_in_all_blocks(clean_plugin: None) -> None:
    block = register_block(EchoPluginBlock)
    assert all_blocks()[EchoPluginBlock.id] is block
    assert get_block(EchoPluginBlock.id) is block
    assert register_block(EchoPluginBlock) is block  # same class again: no error
    with pytest.raises(ValueError, match="already used"):
        register_block(ImpostorBlock)
    assert run_block(block, {"text": "hi"}) == [("echo", "hi")]


def test_entry_point_plugins_load_and_broken_ones_are_skipped(
    clean_plugin: None, caplog: pytest.LogCaptureFixture
) -> None:
    def ep(name: str, value: str) -> EntryPoint:
        return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)

    with caplog.at_level(logging.ERROR, logger="backend.blocks"):
        loaded = load_entry_points(
            [
                ep("missing_module", "no_such_module_for_blocks:Block"),
                ep("not_a_block", f"{__name__}:NotABlock"),
                ep("echo", f"{__name__}:EchoPluginBlock"),
                ep("clashing", f"{__name__}:ImpostorBlock"),
            ]
        )
    assert loaded == [EchoPluginBlock.id]
    assert EchoPluginBlock.id in all_blocks()
    skipped = {r.getMessage().split("'")[1] for r in caplog.records}
    assert skipped == {"missing_module", "not_a_block", "clashing"}
