"""A fake DataForSEO: the Labs (Google) keyword suggestions and related keywords live
endpoints, as DataForSEO's public documentation describes them (Basic auth, a list of
tasks in, an envelope with per-task status codes and ``result[0].items`` out)."""

from __future__ import annotations

import base64
import re
from typing import Any

from tests.service_server import Json, Recorded, ServiceServer

USERNAME = "seo@example.com"
PASSWORD = "dfs-pass-7c2e91b04d"
SUGGESTIONS = "/v3/dataforseo_labs/google/keyword_suggestions/live"
RELATED = "/v3/dataforseo_labs/google/related_keywords/live"
DENIED = {
    "status_code": 40100,
    "status_message": "You are not authorized to access this resource.",
    "tasks": None,
}


def envelope(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": "0.1.20240801",
        "status_code": 20000,
        "status_message": "Ok.",
        "cost": 0.01,
        "tasks_count": len(tasks),
        "tasks_error": 0,
        "tasks": tasks,
    }


def task(items: list[dict[str, Any]], status: int = 20000, message: str = "Ok.") -> dict:
    result = None if status != 20000 else [{"seed_keyword": "x", "items": items}]
    return {"id": "0801-1", "status_code": status, "status_message": message, "result": result}


def keyword(name: str, volume: int) -> dict[str, Any]:
    return {
        "se_type": "google",
        "keyword": name,
        "keyword_info": {"search_volume": volume, "competition": 0.5, "cpc": 2},
        "keyword_properties": {"keyword_difficulty": 40},
        "serp_info": {"se_results_count": 1000},
        "clickstream_keyword_info": None,
    }


class DataForSeoServer(ServiceServer):
    def __init__(self, username: str = USERNAME, password: str = PASSWORD) -> None:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.authorization = f"Basic {token}"
        super().__init__({("POST", SUGGESTIONS): self._suggest, ("POST", RELATED): self._relate})

    def _denied(self, recorded: Recorded) -> bool:
        return recorded.headers.get("authorization") != self.authorization

    def _suggest(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if self._denied(recorded):
            return Json(DENIED, 401)
        [sent] = recorded.json
        count = min(int(sent.get("limit", 100)), 3)
        items = [keyword(f"{sent['keyword']} idea {i}", 100 - i) for i in range(count)]
        return Json(envelope([task(items)]))

    def _relate(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if self._denied(recorded):
            return Json(DENIED, 401)
        [sent] = recorded.json
        count = min(int(sent.get("limit", 100)), 2)
        items = [
            {
                "se_type": "google",
                "keyword_data": keyword(f"{sent['keyword']} related {i}", 50 + i),
                "depth": sent.get("depth", 1),
                "related_keywords": [],
            }
            for i in range(count)
        ]
        return Json(envelope([task(items)]))
