"""Firecrawl's v1 REST API over plain HTTP: map a site, crawl it, extract data with an LLM.

``POST /v1/map`` answers the site's ``links`` at once. ``POST /v1/crawl`` and ``POST
/v1/extract`` start a job and answer its ``id``; ``GET /v1/crawl/{id}`` and ``GET
/v1/extract/{id}`` tell its ``status`` and, once ``completed``, its ``data`` (a crawl's
pages may continue at the ``next`` URL). The key goes in ``Authorization: Bearer``.

The official ``firecrawl-py`` client takes a base URL, but it sends through its own HTTP
stack and waits for jobs with blocking sleeps: neither our retries, the node's time
budget nor cancellation would reach it. So this module calls the API itself; a job is
checked every ``BACKEND_FIRECRAWL_POLL_SECONDS`` and given up (with a clear error)
before the node's time runs out. A crawl given up, or whose node is cancelled, is
cancelled on Firecrawl too (``DELETE /v1/crawl/{id}``, best effort), so it stops costing
credits; v1 has no way to cancel an extraction.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.parse
from typing import Any

from backend.errors import ProviderError

from .http import time_budget
from .services import ServiceCall, ServiceClients, poll_pause

PROVIDER = "firecrawl"
RUNNING_STATUSES = frozenset({"scraping", "processing", "pending", "queued", "waiting"})
# Page fields whose v1 names differ from the snake_case AutoGPT's documents carry.
_DOCUMENT_KEYS = {"rawHtml": "raw_html", "changeTracking": "change_tracking"}
# Pages of a crawl fetched through ``next`` at most (a runaway chain would never end).
MAX_PAGES = 100
CANCEL_TIMEOUT_SECONDS = 5.0


def document(page: Any) -> dict[str, Any]:
    """A crawled page with AutoGPT's key names (``raw_html``, ``change_tracking``)."""
    if not isinstance(page, dict):
        return {}
    return {_DOCUMENT_KEYS.get(str(key), str(key)): value for key, value in page.items()}


class Firecrawl:
    def __init__(self, clients: ServiceClients, key: str, deadline: float | None) -> None:
        self.deadline = deadline
        self.poll_seconds = clients.settings.firecrawl_poll_seconds
        self.call = ServiceCall(
            PROVIDER,
            clients.settings.firecrawl_base_url,
            clients.pool.client(),
            key,
            {"Authorization": f"Bearer {key}"},
        )

    async def map(self, url: str) -> list[dict[str, Any]]:
        """The site's links, each as {url, title, description} (None where unknown)."""
        with time_budget(self.deadline):
            answer = await self.call.request("POST", "/v1/map", json={"url": url}, read_only=True)
        links = answer.get("links") if isinstance(answer, dict) else None
        if not isinstance(links, list):
            raise self.call.malformed("no links in the map answer")
        found: list[dict[str, Any]] = []
        for link in links:
            if isinstance(link, str):
                found.append({"url": link, "title": None, "description": None})
            elif isinstance(link, dict) and isinstance(link.get("url"), str):
                found.append(
                    {
                        "url": link["url"],
                        "title": link.get("title"),
                        "description": link.get("description"),
                    }
                )
            else:
                raise self.call.malformed("a link is neither a URL nor an object with one")
        return found

    async def crawl(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Crawl as ``body`` asks; the crawled pages once the crawl is done."""
        with time_budget(self.deadline):
            job = self._job_id(await self.call.request("POST", "/v1/crawl", json=body))
            try:
                status = await self._finished(f"/v1/crawl/{job}", f"crawl {job}")
            except BaseException:  # out of time, cancelled, failed: stop paying for it
                await self._cancel(f"/v1/crawl/{job}")
                raise
            pages = self._pages(status)
            for _ in range(MAX_PAGES):
                following = status.get("next")
                if not isinstance(following, str) or not following:
                    break
                status = await self.call.request("GET", self._path_of(following))
                if not isinstance(status, dict):
                    raise self.call.malformed(f"a page of crawl {job} is not an object")
                pages.extend(self._pages(status))
        return [document(page) for page in pages]

    async def extract(self, body: dict[str, Any]) -> Any:
        """Extract what ``body`` asks for; the extracted data once the job is done."""
        with time_budget(self.deadline):
            job = self._job_id(await self.call.request("POST", "/v1/extract", json=body))
            status = await self._finished(f"/v1/extract/{job}", f"extraction {job}")
        if "data" not in status:
            raise self.call.malformed(f"extraction {job} is completed but has no data")
        return status["data"]

    async def _cancel(self, path: str) -> None:
        """Cancel a crawl nobody waits for any more; never raises, never takes long."""

        async def cancel() -> None:
            # A budget of its own: the node's is used up when its time limit ended the wait.
            with time_budget(time.monotonic() + CANCEL_TIMEOUT_SECONDS):
                await self.call.request("DELETE", path)

        with contextlib.suppress(Exception):
            # Shielded: the node's own cancellation must not cancel the cancel request.
            await asyncio.wait_for(asyncio.shield(cancel()), CANCEL_TIMEOUT_SECONDS)

    def _job_id(self, answer: Any) -> str:
        job = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(job, str) or not job:
            raise self.call.malformed("no job id in the answer")
        return urllib.parse.quote(job, safe="")

    async def _finished(self, path: str, what: str) -> dict[str, Any]:
        """The job's status once it is completed; ProviderError if it failed."""
        while True:
            status = await self.call.request("GET", path)
            if not isinstance(status, dict):
                raise self.call.malformed(f"the status of {what} is not an object")
            state = str(status.get("status", "")).lower()
            if state == "completed":
                return status
            if state not in RUNNING_STATUSES:
                reason = status.get("error") or f"status {state or 'missing'}"
                raise ProviderError(f"firecrawl {what} did not complete: {reason}")
            await poll_pause(PROVIDER, self.poll_seconds, what)

    def _pages(self, status: dict[str, Any]) -> list[Any]:
        pages = status.get("data", [])
        if not isinstance(pages, list):
            raise self.call.malformed("the crawl's data is not a list")
        return list(pages)

    def _path_of(self, url: str) -> str:
        """``url`` (Firecrawl's own next-page link) as a path under the base URL, so
        the request goes where the settings say, with the key only to Firecrawl."""
        parts = urllib.parse.urlsplit(url)
        base_path = urllib.parse.urlsplit(self.call.base_url).path.rstrip("/")
        path = parts.path.removeprefix(base_path) if base_path else parts.path
        return path + (f"?{parts.query}" if parts.query else "")
