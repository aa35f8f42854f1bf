"""A fake Firecrawl v1 API: map, crawl (a job polled until completed, its pages split
over ``next`` links) and extract (a job), as Firecrawl's v1 reference describes them."""

from __future__ import annotations

import re
from typing import Any

from tests.service_server import Json, Recorded, ServiceServer

KEY = "fc-test-key-7d2a9e41b3"
UNAUTHORIZED = Json({"success": False, "error": "Unauthorized: Invalid token"}, 401)


def page(index: int) -> dict[str, Any]:
    return {
        "markdown": f"# Page {index}",
        "html": f"<h1>Page {index}</h1>",
        "rawHtml": f"<html><h1>Page {index}</h1></html>",
        "links": [f"https://example.com/{index}/a"],
        "metadata": {"title": f"Page {index}", "sourceURL": f"https://example.com/{index}"},
    }


class FirecrawlServer(ServiceServer):
    def __init__(self, key: str = KEY) -> None:
        self.key = key
        self.polls_before_done = 1  # status checks answering "scraping" first
        self.pages = 3
        self.page_size = 2  # pages per status answer; the rest behind ``next``
        self.extracted: dict[str, Any] = {"company": "Example Ltd", "plans": ["free", "pro"]}
        self.final: dict[str, Any] | None = None  # overrides the completed status
        self.cancelled: list[str] = []  # crawls cancelled with DELETE
        self._polls: dict[str, int] = {}
        super().__init__(
            {
                ("POST", "/v1/map"): self._map,
                ("POST", "/v1/crawl"): self._start("crawl"),
                ("GET", r"/v1/crawl/(?P<id>[^/]+)"): self._crawl_status,
                ("DELETE", r"/v1/crawl/(?P<id>[^/]+)"): self._cancel,
                ("POST", "/v1/extract"): self._start("extract"),
                ("GET", r"/v1/extract/(?P<id>[^/]+)"): self._extract_status,
            }
        )

    def _denied(self, recorded: Recorded) -> bool:
        return recorded.headers.get("authorization") != f"Bearer {self.key}"

    def _map(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if self._denied(recorded):
            return UNAUTHORIZED
        url = recorded.json["url"].rstrip("/")
        return Json({"success": True, "links": [url, f"{url}/pricing", f"{url}/docs"]})

    def _start(self, kind: str) -> Any:
        def start(recorded: Recorded, match: re.Match[str]) -> Json:
            if self._denied(recorded):
                return UNAUTHORIZED
            job = f"{kind}-1"
            self._polls[job] = 0
            return Json({"success": True, "id": job, "url": f"{self.url}/v1/{kind}/{job}"})

        return start

    def _running(self, job: str) -> bool:
        polls = self._polls.get(job, 0)
        self._polls[job] = polls + 1
        return polls < self.polls_before_done

    def _crawl_status(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if self._denied(recorded):
            return UNAUTHORIZED
        job = match["id"]
        if self._running(job):
            return Json({"status": "scraping", "total": self.pages, "completed": 0, "data": []})
        if self.final is not None:
            return Json(self.final)
        skip = int(recorded.query.get("skip", "0"))
        end = min(self.pages, skip + self.page_size)
        answer: dict[str, Any] = {
            "status": "completed",
            "total": self.pages,
            "completed": self.pages,
            "creditsUsed": self.pages,
            "data": [page(i) for i in range(skip, end)],
            "next": f"{self.url}/v1/crawl/{job}?skip={end}" if end < self.pages else None,
        }
        return Json(answer)

    def _cancel(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if self._denied(recorded):
            return UNAUTHORIZED
        self.cancelled.append(match["id"])
        return Json({"status": "cancelled"})

    def _extract_status(self, recorded: Recorded, match: re.Match[str]) -> Json:
        if self._denied(recorded):
            return UNAUTHORIZED
        if self._running(match["id"]):
            return Json({"success": True, "status": "processing"})
        if self.final is not None:
            return Json(self.final)
        return Json({"success": True, "status": "completed", "data": self.extracted})
