"""AirtableCreateBaseBlock and AirtableCreateRecordsBlock: AutoGPT's Airtable blocks (same
ids, pins and defaults; credential: an Airtable API key, a personal access token)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from backend.providers.airtable import Airtable

from .base import BlockContext, BlockOutput, BlockSchema, TestVector
from .service_base import CredentialsRef, ServiceBlock, credentials_field

NO_KEY = (
    "this block needs an API key for provider airtable: give the node a credential for it "
    "or set the operator's default key"
)
DEFAULT_TABLES: list[dict[str, Any]] = [
    {
        "description": "Default table",
        "name": "Default table",
        "fields": [
            {
                "name": "ID",
                "type": "number",
                "description": "Auto-incrementing ID field",
                "options": {"precision": 0},
            }
        ],
    }
]


class _AirtableBlock(ServiceBlock):
    categories = ("DATA",)
    provider = "airtable"

    def client(self, ctx: BlockContext) -> Airtable:
        return Airtable(self.clients(ctx), self.api_key(ctx), ctx.deadline)


class AirtableCreateBaseBlock(_AirtableBlock):
    """Creates a base in an Airtable workspace, or with ``find_existing`` (the default)
    returns the base of that name the key can already see, as AutoGPT does: ``base_id``,
    ``was_created``, then ``tables`` and each table on ``table``."""

    id = "f59b88a8-54ce-4676-a508-fd614b4e8dce"
    description = "Creates a base in Airtable, or finds the existing one of that name."

    class Input(BlockSchema):
        credentials: CredentialsRef = credentials_field("Airtable")
        workspace_id: str = Field(description="The workspace ID where the base will be created.")
        name: str = Field(description="The name of the new base.")
        find_existing: bool = Field(
            True,
            description="If true, return an existing base with the same name instead of "
            "creating a duplicate.",
        )
        tables: list[dict[str, Any]] = Field(
            DEFAULT_TABLES,
            description="The tables to create in the base (at least one, with at least one "
            "field): each with 'name' and 'fields'.",
        )

    class Output(BlockSchema):
        base_id: str = Field(description="The ID of the created or found base.")
        tables: list[dict[str, Any]] = Field(description="The base's tables.")
        table: dict[str, Any] = Field(description="A single table of the base.")
        was_created: bool = Field(
            description="True if a new base was created, False if an existing one was found."
        )

    test_vectors = (TestVector({"workspace_id": "wspTest", "name": "Leads"}, [("error", NO_KEY)]),)

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        airtable = self.client(ctx)
        if pins.find_existing:
            found = await airtable.find_base(pins.name)
            if found is not None:
                yield "base_id", found
                yield "was_created", False
                tables = await airtable.base_tables(found)
                yield "tables", tables
                for table in tables:
                    yield "table", table
                return
        base = await airtable.create_base(pins.workspace_id, pins.name, pins.tables)
        yield "base_id", base.get("id")
        yield "was_created", True
        tables = airtable.tables_of(base)
        yield "tables", tables
        for table in tables:
            yield "table", table


class AirtableCreateRecordsBlock(_AirtableBlock):
    """Creates records in an Airtable table: each entry of ``records`` is one record's
    fields (field name, or id, to value). Airtable takes 10 records per request, so a
    longer list is sent in batches of 10; ``records`` is every created record, in order."""

    id = "42527e98-47b6-44ce-ac0e-86b4883721d3"
    description = "Creates records in an Airtable table."

    class Input(BlockSchema):
        credentials: CredentialsRef = credentials_field("Airtable")
        base_id: str = Field(description="The Airtable base ID.")
        table_id_or_name: str = Field(description="Table ID or name.")
        records: list[dict[str, Any]] = Field(
            description="The records to create: each one's fields, field name to value."
        )
        typecast: bool = Field(
            False, description="Automatically convert string values to appropriate types."
        )
        return_fields_by_field_id: bool | None = Field(
            None, description="Return fields by field ID instead of by name."
        )

    class Output(BlockSchema):
        records: list[dict[str, Any]] = Field(
            description="The created records (id, createdTime, fields)."
        )
        details: dict[str, Any] = Field(
            description="Details of the created records, when Airtable gives any."
        )

    test_vectors = (
        TestVector(
            {"base_id": "appX", "table_id_or_name": "Leads", "records": [{"Name": "A"}]},
            [("error", NO_KEY)],
        ),
    )

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        airtable = self.client(ctx)
        if not pins.records:
            yield "records", []
            return
        records, details = await airtable.create_records(
            pins.base_id,
            pins.table_id_or_name,
            pins.records,
            typecast=True if pins.typecast else None,
            return_fields_by_field_id=pins.return_fields_by_field_id,
        )
        yield "records", records
        if details:
            yield "details", details
