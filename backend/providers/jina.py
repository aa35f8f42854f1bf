"""Jina's search and reader APIs over plain HTTP, answering text (markdown).

Search is ``GET https://s.jina.ai/<query, URL-encoded>``: the top results with the
content of each page. The reader is ``GET https://r.jina.ai/<page URL>``: that page as
markdown, fetched by Jina's servers (so a page URL the graph author gives never reaches
our network from here). The key goes in ``Authorization: Bearer``. Both base URLs are
settings; the path carries the query or URL exactly as AutoGPT sends it.
"""

from __future__ import annotations

from urllib.parse import quote

from .http import time_budget
from .services import ServiceCall, ServiceClients

PROVIDER = "jina"


class Jina:
    def __init__(self, clients: ServiceClients, key: str, deadline: float | None) -> None:
        self.deadline = deadline
        self.settings = clients.settings
        self.http = clients.pool.client()
        self.key = key

    def _call(self, base_url: str) -> ServiceCall:
        return ServiceCall(
            PROVIDER, base_url, self.http, self.key, {"Authorization": f"Bearer {self.key}"}
        )

    async def search(self, query: str) -> str:
        """The search results for ``query`` with the content of the top pages."""
        with time_budget(self.deadline):
            return await self._call(self.settings.jina_search_base_url).text("/" + quote(query))

    async def read(self, url: str) -> str:
        """The content of the page at ``url``, as Jina's reader renders it."""
        with time_budget(self.deadline):
            return await self._call(self.settings.jina_reader_base_url).text("/" + url)
