"""The Airtable blocks against a fake Airtable Web API over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from backend.blocks.airtable import (
    DEFAULT_TABLES,
    AirtableCreateBaseBlock,
    AirtableCreateRecordsBlock,
)
from tests.airtable_server import KEY, AirtableServer, table_in_path
from tests.service_server import Json, Raw
from tests.services.conftest import Waits, context, run_block, service_clients

BASE = AirtableCreateBaseBlock()
RECORDS = AirtableCreateRecordsBlock()
TABLES = [{"name": "Emails", "fields": [{"name": "Subject", "type": "singleLineText"}]}]


@pytest.fixture
def airtable() -> Iterator[AirtableServer]:
    with AirtableServer() as server:
        yield server


def run(block: Any, server: AirtableServer, waits: Waits, data: dict[str, Any], **kw: Any):
    clients = service_clients(waits, airtable_base_url=server.url)
    return run_block(block, data, context(clients, "airtable", kw.pop("key", KEY), None, **kw))


def test_a_new_base_is_created_after_looking_for_one_of_that_name(
    airtable: AirtableServer, waits: Waits
) -> None:
    airtable.bases = [{"id": f"appOld{i}", "name": f"Other {i}"} for i in range(3)]
    data = {"workspace_id": "wspABC", "name": "Support", "tables": TABLES}
    outputs = run(BASE, airtable, waits, data)

    table = {
        "id": "tbl0",
        "name": "Emails",
        "primaryFieldId": "fld00",
        "fields": TABLES[0]["fields"],
    }
    assert outputs == [
        ("base_id", "appNew3"),
        ("was_created", True),
        ("tables", [table]),
        ("table", table),
    ]
    listed, second_page, created = airtable.requests
    assert (listed.method, listed.path, listed.query) == ("GET", "/v0/meta/bases", {})
    assert second_page.query == {"offset": "2"}
    assert (created.method, created.path) == ("POST", "/v0/meta/bases")
    assert created.headers["authorization"] == f"Bearer {KEY}"
    assert created.json == {"name": "Support", "workspaceId": "wspABC", "tables": TABLES}


def test_an_existing_base_of_that_name_is_returned(airtable: AirtableServer, waits: Waits) -> None:
    airtable.bases = [{"id": "appA", "name": "Other"}, {"id": "appB", "name": "Support"}]
    airtable.tables["appB"] = [{"id": "tblB", "name": "Emails", "fields": []}]
    outputs = run(BASE, airtable, waits, {"workspace_id": "wspABC", "name": "Support"})

    assert outputs == [
        ("base_id", "appB"),
        ("was_created", False),
        ("tables", airtable.tables["appB"]),
        ("table", airtable.tables["appB"][0]),
    ]
    assert airtable.paths() == ["/v0/meta/bases", "/v0/meta/bases/appB/tables"]


def test_without_find_existing_the_default_table_is_created(
    airtable: AirtableServer, waits: Waits
) -> None:
    airtable.bases = [{"id": "appB", "name": "Support"}]
    outputs = run(
        BASE, airtable, waits, {"workspace_id": "w", "name": "Support", "find_existing": False}
    )
    assert outputs[:2] == [("base_id", "appNew1"), ("was_created", True)]
    [created] = airtable.requests
    assert created.json["tables"] == DEFAULT_TABLES


def test_records_are_sent_as_fields_in_batches_of_ten(
    airtable: AirtableServer, waits: Waits
) -> None:
    records = [{"Subject": f"mail {i}"} for i in range(23)]
    data = {
        "base_id": "appB",
        "table_id_or_name": "Email Log/2026",
        "records": records,
        "typecast": True,
        "return_fields_by_field_id": False,
    }
    [(pin, created)] = run(RECORDS, airtable, waits, data)

    assert pin == "records"
    assert [r["fields"] for r in created] == records
    assert [r["id"] for r in created] == [f"rec{i:04d}" for i in range(1, 24)]
    assert [len(r.json["records"]) for r in airtable.requests] == [10, 10, 3]
    first = airtable.requests[0]
    assert first.path == "/v0/appB/Email%20Log%2F2026"
    assert table_in_path(first.path) == "Email Log/2026"
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert first.json == {
        "records": [{"fields": fields} for fields in records[:10]],
        "typecast": True,
        "returnFieldsByFieldId": False,
    }


def test_autogpts_defaults_send_no_options(airtable: AirtableServer, waits: Waits) -> None:
    data = {"base_id": "appB", "table_id_or_name": "tblB", "records": [{"Subject": "x"}]}
    [(pin, _)] = run(RECORDS, airtable, waits, data)
    assert pin == "records"
    [sent] = airtable.requests
    assert sent.json == {"records": [{"fields": {"Subject": "x"}}]}


def test_details_are_passed_on(airtable: AirtableServer, waits: Waits) -> None:
    answer = {"records": [{"id": "rec1", "fields": {}}], "details": {"message": "partial"}}
    airtable.script(r"/v0/appB/.*", Json(answer))
    data = {"base_id": "appB", "table_id_or_name": "tblB", "records": [{}]}
    outputs = run(RECORDS, airtable, waits, data)
    assert outputs == [("records", answer["records"]), ("details", {"message": "partial"})]


def test_no_records_makes_no_request(airtable: AirtableServer, waits: Waits) -> None:
    data = {"base_id": "appB", "table_id_or_name": "tblB", "records": []}
    assert run(RECORDS, airtable, waits, data) == [("records", [])]
    assert airtable.requests == []


def test_a_failing_batch_says_how_many_were_created(airtable: AirtableServer, waits: Waits) -> None:
    invalid = {"error": {"type": "INVALID_VALUE_FOR_COLUMN", "message": "Field 'N' bad"}}
    first = {"records": [{"id": f"rec{i}", "fields": {"N": i}} for i in range(10)]}
    airtable.script(r"/v0/appB/.*", Json(first), Json(invalid, 422))
    data = {"base_id": "appB", "table_id_or_name": "tblB", "records": [{"N": i} for i in range(15)]}
    assert run(RECORDS, airtable, waits, data) == [
        (
            "error",
            "airtable answered HTTP 422 (unprocessable request): Field 'N' bad "
            "(after 10 of 15 records were created)",
        )
    ]
    assert len(airtable.requests) == 2


def test_a_wrong_key_is_a_clear_error_without_the_key(
    airtable: AirtableServer, waits: Waits
) -> None:
    wrong = "patWrongAirtable.99999999"
    outputs = run(BASE, airtable, waits, {"workspace_id": "w", "name": "n"}, key=wrong)
    assert outputs == [
        (
            "error",
            "airtable answered HTTP 401 (unauthorized: check the API key): Authentication required",
        )
    ]
    assert wrong not in str(outputs)


def test_a_rate_limit_is_waited_out(airtable: AirtableServer, waits: Waits) -> None:
    airtable.script(
        r"/v0/appB/.*", Json({"errors": [{"error": "RATE_LIMIT"}]}, 429, {"Retry-After": "5"})
    )
    data = {"base_id": "appB", "table_id_or_name": "tblB", "records": [{"a": 1}]}
    [(pin, _)] = run(RECORDS, airtable, waits, data)
    assert pin == "records"
    assert waits == [5.0]


def test_a_long_rate_limit_fails_at_once(airtable: AirtableServer, waits: Waits) -> None:
    limited = Json(
        {"error": {"type": "RATE_LIMIT", "message": "Too many"}}, 429, {"Retry-After": "120"}
    )
    airtable.script(r"/v0/meta/bases", limited)
    outputs = run(BASE, airtable, waits, {"workspace_id": "w", "name": "n"})
    assert outputs == [
        (
            "error",
            "airtable answered HTTP 429 (rate limited; the server asks to wait 120 s): Too many",
        )
    ]


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Raw(b"<html>", content_type="text/html"), "not JSON"),
        (Json(["a"]), "the answer is not an object"),
        (Json({"records": {"id": "rec1"}}), "records is not a list of objects"),
    ],
)
def test_a_malformed_answer_is_named(
    airtable: AirtableServer, waits: Waits, reply: Any, reason: str
) -> None:
    airtable.script(r"/v0/appB/.*", reply)
    data = {"base_id": "appB", "table_id_or_name": "tblB", "records": [{"a": 1}]}
    assert run(RECORDS, airtable, waits, data) == [
        ("error", f"airtable sent a malformed answer: {reason}")
    ]


def test_a_malformed_base_list_is_named(airtable: AirtableServer, waits: Waits) -> None:
    airtable.script(r"/v0/meta/bases", Json({"bases": "none"}))
    outputs = run(BASE, airtable, waits, {"workspace_id": "w", "name": "n"})
    assert outputs == [
        ("error", "airtable sent a malformed answer: bases is not a list of objects")
    ]


def test_a_key_echoed_by_a_failing_server_is_masked(airtable: AirtableServer, waits: Waits) -> None:
    down = Raw(f"gateway saw {KEY}".encode(), 500, "text/plain")
    airtable.script(r"/v0/meta/bases", down, down, down)
    outputs = run(BASE, airtable, waits, {"workspace_id": "w", "name": "n"})
    assert outputs == [
        (
            "error",
            "airtable answered HTTP 500 (server error; gave up after 3 attempts): gateway saw ***",
        )
    ]


def test_without_a_credential_the_node_says_what_to_do(waits: Waits) -> None:
    ctx = context(service_clients(waits), "airtable", KEY, None)
    ctx.credentials = {}
    data = RECORDS.test_vectors[0].input
    assert run_block(RECORDS, data, ctx) == list(RECORDS.test_vectors[0].output)
    assert BASE.required_credentials({}) == {"credentials": "airtable"}
