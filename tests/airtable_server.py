"""A fake Airtable Web API: creating and listing bases, a base's tables, and creating
records (at most 10 per request, as Airtable enforces), as Airtable's public
documentation describes them."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from tests.service_server import Json, Recorded, ServiceServer

KEY = "patTestAirtable.0a1b2c3d4e5f"
DENIED = {"error": {"type": "AUTHENTICATION_REQUIRED", "message": "Authentication required"}}


class AirtableServer(ServiceServer):
    def __init__(self, key: str = KEY) -> None:
        self.key = key
        # Bases the token can see, pages of this size (Airtable's offset pagination).
        self.bases: list[dict[str, Any]] = []
        self.page_size = 2
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self._created = 0
        super().__init__(
            {
                ("POST", r"/v0/meta/bases"): self._create_base,
                ("GET", r"/v0/meta/bases"): self._list_bases,
                ("GET", r"/v0/meta/bases/(?P<base>[^/]+)/tables"): self._base_tables,
                ("POST", r"/v0/(?!meta/)(?P<base>[^/]+)/(?P<table>[^/]+)"): self._create_records,
            }
        )

    def _denied(self, recorded: Recorded) -> bool:
        return recorded.headers.get("authorization") != f"Bearer {self.key}"

    def _create_base(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if self._denied(recorded):
            return Json(DENIED, 401)
        sent = recorded.json
        tables = [
            {
                "id": f"tbl{i}",
                "name": t["name"],
                "primaryFieldId": f"fld{i}0",
                "fields": t["fields"],
            }
            for i, t in enumerate(sent["tables"])
        ]
        base_id = f"appNew{len(self.bases)}"
        self.bases.append({"id": base_id, "name": sent["name"], "permissionLevel": "create"})
        self.tables[base_id] = tables
        return Json({"id": base_id, "tables": tables})

    def _list_bases(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if self._denied(recorded):
            return Json(DENIED, 401)
        start = int(recorded.query.get("offset") or 0)
        page: dict[str, Any] = {"bases": self.bases[start : start + self.page_size]}
        if start + self.page_size < len(self.bases):
            page["offset"] = str(start + self.page_size)
        return Json(page)

    def _base_tables(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if self._denied(recorded):
            return Json(DENIED, 401)
        if match["base"] not in self.tables:
            return Json({"error": "NOT_FOUND"}, 404)
        return Json({"tables": self.tables[match["base"]]})

    def _create_records(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if self._denied(recorded):
            return Json(DENIED, 401)
        records = recorded.json["records"]
        if len(records) > 10:
            message = "You can create at most 10 records per request"
            return Json({"error": {"type": "INVALID_RECORDS", "message": message}}, 422)
        created = []
        for record in records:
            self._created += 1
            created.append(
                {
                    "id": f"rec{self._created:04d}",
                    "createdTime": "2026-12-02T10:00:00.000Z",
                    "fields": record["fields"],
                }
            )
        return Json({"records": created})


def table_in_path(path: str) -> str:
    return urllib.parse.unquote(path.rsplit("/", 1)[1])
