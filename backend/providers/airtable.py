"""Airtable's Web API over plain HTTP: creating bases and records, as AutoGPT's blocks do.

``POST /v0/meta/bases`` with ``{"name", "workspaceId", "tables"}`` creates a base and
answers its ``id`` and ``tables``; ``GET /v0/meta/bases`` lists the bases the token can
see (``offset`` for the next page) and ``GET /v0/meta/bases/{baseId}/tables`` a base's
tables. ``POST /v0/{baseId}/{tableIdOrName}`` with ``{"records": [{"fields": ...}]}``
(and ``typecast``, ``returnFieldsByFieldId``) creates records; Airtable takes at most 10
per request, so longer lists are sent in batches of 10, in order. The token goes in
``Authorization: Bearer``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from backend.errors import ProviderError

from .http import time_budget
from .services import ServiceCall, ServiceClients, dig

PROVIDER = "airtable"
BASES_PATH = "/v0/meta/bases"
MAX_RECORDS_PER_REQUEST = 10
MAX_BASE_PAGES = 50  # a token seeing more than 50 pages of bases stops the search there


def _segment(value: str) -> str:
    """``value`` as one path segment (a table name may hold spaces or slashes)."""
    return quote(value, safe="")


class Airtable:
    def __init__(self, clients: ServiceClients, key: str, deadline: float | None) -> None:
        self.deadline = deadline
        self.call = ServiceCall(
            PROVIDER,
            clients.settings.airtable_base_url,
            clients.pool.client(),
            key,
            {"Authorization": f"Bearer {key}"},
        )

    async def create_base(
        self, workspace_id: str, name: str, tables: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The new base: its ``id`` and ``tables``."""
        body = {"name": name, "workspaceId": workspace_id, "tables": tables}
        with time_budget(self.deadline):
            answer = await self.call.request("POST", BASES_PATH, json=body)
        return self._object(answer, "the answer")

    async def find_base(self, name: str) -> str | None:
        """The id of the first base named ``name`` the token can see, or None."""
        offset = ""
        with time_budget(self.deadline):
            for _ in range(MAX_BASE_PAGES):
                params = {"offset": offset} if offset else None
                answer = self._object(
                    await self.call.request("GET", BASES_PATH, params=params), "the answer"
                )
                bases = answer.get("bases") or []
                if not isinstance(bases, list) or not all(isinstance(b, dict) for b in bases):
                    raise self.call.malformed("bases is not a list of objects")
                for base in bases:
                    if base.get("name") == name:
                        found = dig(base, self.call, "id")
                        if not isinstance(found, str):
                            raise self.call.malformed("a base's id is not text")
                        return found
                offset = answer.get("offset") or ""
                if not offset or not bases:
                    break
        return None

    async def base_tables(self, base_id: str) -> list[dict[str, Any]]:
        """The tables of the base ``base_id`` (each with its fields and views)."""
        with time_budget(self.deadline):
            answer = await self.call.request("GET", f"{BASES_PATH}/{_segment(base_id)}/tables")
        return self._tables(self._object(answer, "the answer"))

    async def create_records(
        self,
        base_id: str,
        table: str,
        records: list[dict[str, Any]],
        *,
        typecast: bool | None,
        return_fields_by_field_id: bool | None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The created records, in order, and the ``details`` Airtable answered (merged)."""
        path = f"/v0/{_segment(base_id)}/{_segment(table)}"
        options: dict[str, Any] = {}
        if typecast is not None:
            options["typecast"] = typecast
        if return_fields_by_field_id is not None:
            options["returnFieldsByFieldId"] = return_fields_by_field_id
        created: list[dict[str, Any]] = []
        details: dict[str, Any] = {}
        with time_budget(self.deadline):
            for start in range(0, len(records), MAX_RECORDS_PER_REQUEST):
                batch = records[start : start + MAX_RECORDS_PER_REQUEST]
                body = {"records": [{"fields": fields} for fields in batch], **options}
                try:
                    answer = self._object(
                        await self.call.request("POST", path, json=body), "the answer"
                    )
                    got = answer.get("records") or []
                    if not isinstance(got, list) or not all(isinstance(r, dict) for r in got):
                        raise self.call.malformed("records is not a list of objects")
                except ProviderError as exc:
                    if not created:
                        raise
                    raise ProviderError(
                        f"{exc} (after {len(created)} of {len(records)} records were created)"
                    ) from None
                created.extend(got)
                if isinstance(answer.get("details"), dict):
                    details.update(answer["details"])
        return created, details

    def _object(self, answer: Any, what: str) -> dict[str, Any]:
        if not isinstance(answer, dict):
            raise self.call.malformed(f"{what} is not an object")
        return answer

    def _tables(self, answer: dict[str, Any]) -> list[dict[str, Any]]:
        tables = answer.get("tables") or []
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise self.call.malformed("tables is not a list of objects")
        return tables

    def tables_of(self, base: dict[str, Any]) -> list[dict[str, Any]]:
        """The ``tables`` of a created base's answer."""
        return self._tables(base)
