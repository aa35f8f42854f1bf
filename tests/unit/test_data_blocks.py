"""AutoGPT's offline data blocks beyond their own vectors: clocks, XML safety, the
countdown's cancel, and multipart uploads over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from backend.blocks.base import Block, BlockContext, BlockInputError, Isolation
from backend.blocks.conversion import UniversalTypeConverterBlock
from backend.blocks.data_structures import estimate_tokens
from backend.blocks.dates import (
    GetCurrentDateAndTimeBlock,
    GetCurrentDateBlock,
    GetCurrentTimeBlock,
)
from backend.blocks.timing import CountdownTimerBlock
from backend.blocks.web import SendWebRequestBlock
from backend.blocks.xml import MAX_XML_CHARS, MAX_XML_DEPTH, XMLParserBlock
from tests.http_server import serving
from tests.run_blocks import run_block


def only_value(block: Block, data: dict[str, Any], pin: str) -> Any:
    [(got_pin, value)] = run_block(block, data)
    assert got_pin == pin, value
    return value


# -- clocks ------------------------------------------------------------------------------


def strftime(pattern: str, tz: str = "UTC") -> dict[str, Any]:
    return {"discriminator": "strftime", "format": pattern, "timezone": tz}


def test_current_time_defaults_to_utc_hours_minutes_seconds() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    value = only_value(GetCurrentTimeBlock(), {"trigger": "go"}, "time")
    after = datetime.now(UTC)
    assert re.fullmatch(r"\d\d:\d\d:\d\d", value)
    assert value in {before.strftime("%H:%M:%S"), after.strftime("%H:%M:%S")}


@pytest.mark.parametrize(
    ("tz", "offset"), [("UTC", "+00:00"), ("Asia/Kathmandu", "+05:45"), ("Etc/GMT+12", "-12:00")]
)
def test_current_time_in_iso8601_carries_the_zone(tz: str, offset: str) -> None:
    spec = {"discriminator": "iso8601", "timezone": tz}
    value = only_value(GetCurrentTimeBlock(), {"trigger": 1, "format_type": spec}, "time")
    assert re.fullmatch(r"T\d\d:\d\d:\d\d" + re.escape(offset), value)
    spec["include_microseconds"] = True
    value = only_value(GetCurrentTimeBlock(), {"trigger": 1, "format_type": spec}, "time")
    assert re.fullmatch(r"T\d\d:\d\d:\d\d(\.\d{6})?" + re.escape(offset), value)


def test_the_legacy_format_pin_still_formats_and_format_type_wins_over_it() -> None:
    year = str(datetime.now(UTC).year)
    assert only_value(GetCurrentTimeBlock(), {"trigger": 1, "format": "%Y"}, "time") == year
    both = {"trigger": 1, "format": "%Y", "format_type": strftime("fixed")}
    assert only_value(GetCurrentTimeBlock(), both, "time") == "fixed"
    date_only = {"trigger": 1, "format": "%Y"}
    assert only_value(GetCurrentDateBlock(), date_only, "date") == year
    assert only_value(GetCurrentDateAndTimeBlock(), date_only, "date_time") == year


def test_an_unknown_time_zone_is_an_input_error() -> None:
    data = {"trigger": 1, "format_type": strftime("%H", "Mars/Olympus_Mons")}
    with pytest.raises(BlockInputError, match="unknown time zone 'Mars/Olympus_Mons'"):
        run_block(GetCurrentDateAndTimeBlock(), data)


@pytest.mark.parametrize(("offset", "days_back"), [(7, 7), ("7", 7), ("-1", -1), ("soon", 0)])
def test_current_date_goes_back_offset_days(offset: Any, days_back: int) -> None:
    today = datetime.now(UTC).date()
    value = only_value(GetCurrentDateBlock(), {"trigger": "go", "offset": offset}, "date")
    later = datetime.now(UTC).date()  # the run may cross midnight
    expected = {(d - timedelta(days=days_back)).isoformat() for d in (today, later)}
    assert value in expected
    iso = {"trigger": "go", "offset": offset, "format_type": {"discriminator": "iso8601"}}
    assert only_value(GetCurrentDateBlock(), iso, "date") in expected


def test_current_date_and_time_in_iso8601_is_now_with_its_offset() -> None:
    spec = {"discriminator": "iso8601", "timezone": "Europe/Paris"}
    before = datetime.now(UTC).replace(microsecond=0)
    value = only_value(
        GetCurrentDateAndTimeBlock(), {"trigger": 1, "format_type": spec}, "date_time"
    )
    after = datetime.now(UTC)
    moment = datetime.fromisoformat(value)
    assert moment.utcoffset() in {timedelta(hours=1), timedelta(hours=2)}
    assert before <= moment <= after
    default = only_value(GetCurrentDateAndTimeBlock(), {"trigger": 1}, "date_time")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", default)


# -- XML ---------------------------------------------------------------------------------


def parse(text: str) -> list[tuple[str, Any]]:
    return run_block(XMLParserBlock(), {"input_xml": text})


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    + "]><lolz>&lol9;</lolz>"
).replace("&lol0;", "&lol;")


@pytest.mark.parametrize(
    "document",
    [
        BILLION_LAUGHS,
        '<!DOCTYPE a [<!ENTITY secret SYSTEM "file:///etc/hostname">]><a>&secret;</a>',
        '<!DOCTYPE a SYSTEM "http://127.0.0.1:9/evil.dtd"><a>x</a>',
        '<!DOCTYPE a [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]><a/>',
    ],
    ids=["billion-laughs", "external-entity", "external-dtd", "parameter-entity"],
)
def test_xml_with_a_dtd_is_refused(document: str) -> None:
    assert parse(document) == [
        ("error", "XML with a DTD is refused: DTDs and entity declarations are not allowed")
    ]


def test_xml_depth_and_size_are_bounded() -> None:
    deep_ok = "<a>" * MAX_XML_DEPTH + "x" + "</a>" * MAX_XML_DEPTH
    [(pin, _)] = parse(deep_ok)
    assert pin == "parsed_xml"
    too_deep = "<a>" * (MAX_XML_DEPTH + 1) + "</a>" * (MAX_XML_DEPTH + 1)
    assert parse(too_deep) == [
        ("error", f"XML nesting exceeds the maximum depth of {MAX_XML_DEPTH}")
    ]
    too_big = "<a>" + "x" * MAX_XML_CHARS + "</a>"
    [(pin, message)] = parse(too_big)
    assert pin == "error" and message.startswith("XML is too large")


def test_xml_shapes_follow_autogpts_parser() -> None:
    document = """
    <Tag>
        <a><test> pass </test><test>fail</test></a>
        <b>value</b>
        <c>
            <test><name>Test 1</name><result>pass</result></test>
            <test><name>Test 2</name><result>fail</result><feeling>rough</feeling></test>
        </c>
    </Tag>"""
    assert parse(document) == [
        (
            "parsed_xml",
            {
                "tag": {
                    "a": [{"test": "pass"}, {"test": "fail"}],
                    "b": "value",
                    "c": [
                        {"test": {"name": "Test 1", "result": "pass"}},
                        {"test": {"name": "Test 2", "result": "fail", "feeling": "rough"}},
                    ],
                }
            },
        )
    ]


def test_xml_text_keeps_inner_lines_and_reads_the_declared_encoding_as_text() -> None:
    document = '<?xml version="1.0" encoding="ISO-8859-1"?><p>\n  café\n  crème  </p>'
    assert parse(document) == [("parsed_xml", {"p": "café\n  crème"})]
    [(pin, message)] = parse("<p>&nbsp;</p>")
    assert (pin, message) == ("error", "invalid XML: undefined entity (line 1, column 3)")


# -- conversion and token estimates -------------------------------------------------------


def test_converting_a_structure_too_deep_to_dump_is_an_error() -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    [(pin, message)] = run_block(UniversalTypeConverterBlock(), {"value": deep, "type": "string"})
    assert pin == "error" and message.startswith("Failed to convert value: cannot convert")


def test_token_estimate_counts_text_and_json() -> None:
    assert [estimate_tokens(v) for v in ("", "abcd", "abcde", {"k": 1}, 12345)] == [0, 1, 2, 2, 2]


# -- the countdown -----------------------------------------------------------------------


def test_countdown_sleeps_on_the_loop_and_cancel_ends_it() -> None:
    block = CountdownTimerBlock()
    assert block.isolation is Isolation.INLINE
    assert inspect.isasyncgenfunction(type(block).run)

    async def scenario() -> None:
        outputs: list[Any] = []

        async def consume() -> None:
            async for output in block.execute({"hours": 1, "input_message": "late"}):
                outputs.append(output)

        task = asyncio.create_task(consume())
        for _ in range(10):  # let it reach its sleep; the loop stays free meanwhile
            await asyncio.sleep(0)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)
        assert outputs == []

    asyncio.run(scenario())


def test_countdown_wait_is_cut_by_a_timeout() -> None:
    async def scenario() -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                async for _ in CountdownTimerBlock().execute({"days": "2"}):
                    pass

    asyncio.run(scenario())


def test_countdown_repeat_is_capped() -> None:
    with pytest.raises(BlockInputError, match="repeat"):
        run_block(CountdownTimerBlock(), {"repeat": 1001})


# -- SendWebRequestBlock: multipart uploads -----------------------------------------------


class _UploadHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._send(200, "text/plain", b"asset bytes")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + body)
        parts = [
            {
                "name": part.get_param("name", header="content-disposition"),
                "filename": part.get_filename(),
                "type": part.get_content_type(),
                "data": part.get_payload(decode=True).decode(),
            }
            for part in message.iter_parts()
        ]
        self._send(200, "application/json", json.dumps(parts).encode())

    def _send(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def upload_server() -> Iterator[str]:
    with serving(_UploadHandler) as url:
        yield url


PRIVATE_OK = BlockContext(allow_private_network=True)
PNG = "data:image/png;base64," + base64.b64encode(b"not really a png").decode()


def upload(url: str, ctx: BlockContext = PRIVATE_OK, **data: Any) -> list[tuple[str, Any]]:
    return run_block(SendWebRequestBlock(), {"url": url, "json_format": False, **data}, ctx)


def test_files_are_uploaded_as_multipart_with_the_form_fields(upload_server: str) -> None:
    outputs = upload(
        f"{upload_server}/upload",
        body={"title": "Hello", "tags": ["a", "b"], "skip": None},
        files=[PNG, f"{upload_server}/assets/notes.txt"],
        files_name="attachment",
        headers={"Content-Type": "application/json"},  # replaced: the body is multipart
    )
    assert outputs == [
        (
            "response",
            [
                {"name": "title", "filename": None, "type": "text/plain", "data": "Hello"},
                {"name": "tags", "filename": None, "type": "text/plain", "data": "a"},
                {"name": "tags", "filename": None, "type": "text/plain", "data": "b"},
                {
                    "name": "attachment",
                    "filename": "file1.png",
                    "type": "image/png",
                    "data": "not really a png",
                },
                {
                    "name": "attachment",
                    "filename": "notes.txt",
                    "type": "text/plain",
                    "data": "asset bytes",
                },
            ],
        )
    ]


def test_a_file_url_passes_the_same_network_guard(upload_server: str) -> None:
    # Files are fetched before the request is sent, through the same guarded opener.
    [(pin, message)] = upload(
        f"{upload_server}/upload", ctx=BlockContext(), files=[f"{upload_server}/x.txt"]
    )
    assert pin == "error" and "private network access is disabled" in message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"json_format": True, "files": [PNG]},
            "json_format cannot be combined with file uploads",
        ),
        ({"body": "just text", "files": [PNG]}, "with files, body must be a dictionary"),
        ({"files": ["data:text/plain;base64,%%%"]}, "file 1 has invalid base64 data"),
        ({"files": [PNG, "reports/q3.pdf"]}, "file 2 is neither a data URI nor an http(s) URL"),
    ],
)
def test_bad_uploads_are_errors(upload_server: str, data: dict[str, Any], message: str) -> None:
    [(pin, text)] = upload(f"{upload_server}/upload", **data)
    assert pin == "error" and text.startswith(message), text


def test_a_json_body_string_carries_the_form_fields(upload_server: str) -> None:
    outputs = upload(f"{upload_server}/upload", body='{"a": 1}', files=["data:,plain%20text"])
    [(pin, parts)] = outputs
    assert pin == "response"
    assert [(p["name"], p["data"]) for p in parts] == [("a", "1"), ("file", "plain text")]
    assert parts[1]["filename"] == "file1.txt" and parts[1]["type"] == "text/plain"
