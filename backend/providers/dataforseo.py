"""DataForSEO Labs (Google) keyword research over plain HTTP, as AutoGPT's blocks call it.

``POST /v3/dataforseo_labs/google/keyword_suggestions/live`` and ``.../related_keywords/live``
take a list of one task (``keyword``, ``location_code``, ``language_code``, the
``include_*`` switches, ``limit``, and ``depth`` for related keywords) and answer an
envelope: ``status_code`` (20000 is success), ``status_message`` and ``tasks``, each with
its own ``status_code``, ``status_message`` and ``result`` (a list whose first entry
holds the ``items``). DataForSEO often reports a failure inside an HTTP 200 answer, so
both status codes are checked. The login goes in ``Authorization: Basic``.
"""

from __future__ import annotations

import base64
from typing import Any

from backend.errors import ProviderError

from .failures import redact
from .http import time_budget
from .services import ServiceCall, ServiceClients, dig

PROVIDER = "dataforseo"
SUGGESTIONS_PATH = "/v3/dataforseo_labs/google/keyword_suggestions/live"
RELATED_PATH = "/v3/dataforseo_labs/google/related_keywords/live"
SUCCESS = 20000


def basic_auth(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class DataForSeo:
    def __init__(
        self, clients: ServiceClients, login: tuple[str, str], deadline: float | None
    ) -> None:
        username, password = login
        self.deadline = deadline
        self.call = ServiceCall(
            PROVIDER,
            clients.settings.dataforseo_base_url,
            clients.pool.client(),
            password,
            {"Authorization": basic_auth(username, password)},
        )

    async def keyword_suggestions(self, task: dict[str, Any]) -> list[dict[str, Any]]:
        """The items of a keyword suggestions task (each a keyword with its metrics)."""
        return await self._items(SUGGESTIONS_PATH, task)

    async def related_keywords(self, task: dict[str, Any]) -> list[dict[str, Any]]:
        """The items of a related keywords task (each with its ``keyword_data``)."""
        return await self._items(RELATED_PATH, task)

    async def _items(self, path: str, task: dict[str, Any]) -> list[dict[str, Any]]:
        with time_budget(self.deadline):
            answer = await self.call.request("POST", path, json=[task], read_only=True)
        self._check(answer, "the request")
        tasks = dig(answer, self.call, "tasks")
        if not isinstance(tasks, list):
            raise self.call.malformed("tasks is not a list")
        if not tasks:
            return []
        first = tasks[0]
        if not isinstance(first, dict):
            raise self.call.malformed("a task is not an object")
        self._check(first, "the task")
        results = first.get("result") or []
        if not isinstance(results, list):
            raise self.call.malformed("the task's result is not a list")
        if not results:
            return []
        if not isinstance(results[0], dict):
            raise self.call.malformed("the task's result is not a list of objects")
        items = results[0].get("items") or []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise self.call.malformed("items is not a list of objects")
        return items

    def _check(self, envelope: Any, what: str) -> None:
        """A ProviderError with DataForSEO's reason when ``envelope`` reports a failure."""
        if not isinstance(envelope, dict):
            raise self.call.malformed(f"{what}'s answer is not an object")
        status = envelope.get("status_code")
        if not isinstance(status, int) or isinstance(status, bool):
            raise self.call.malformed(f"no status_code for {what}")
        if status != SUCCESS:
            reason = str(envelope.get("status_message") or "no reason given")
            message = f"{PROVIDER} refused {what} (status {status}): {reason}"
            raise ProviderError(redact(message, self.call.secret))
