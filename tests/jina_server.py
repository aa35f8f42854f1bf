"""A fake Jina: the search (s.jina.ai) and reader (r.jina.ai) APIs on one server, as
Jina's public documentation describes them (GET with the query or page URL as the path,
markdown text back), plus a page of its own for raw fetches."""

from __future__ import annotations

import re
import urllib.parse

from tests.service_server import Json, Raw, Recorded, ServiceServer

KEY = "jina_test_key_5b1e9c0a77"
DENIED = {"code": 401, "name": "AuthenticationFailedError", "message": "Invalid API key"}
PAGE = "<html><body><h1>Caf\u00e9 menu</h1></body></html>"


def _authorized(recorded: Recorded, key: str) -> bool:
    return recorded.headers.get("authorization") == f"Bearer {key}"


def jina_server(key: str = KEY) -> ServiceServer:
    def search(recorded: Recorded, match: re.Match[str]) -> Json | Raw:
        if not _authorized(recorded, key):
            return Json(DENIED, 401)
        query = urllib.parse.unquote(match["query"])
        text = f"[1] Title: About {query}\n[1] URL Source: https://example.com/1\n"
        return Raw(text.encode(), content_type="text/plain; charset=utf-8")

    def read(recorded: Recorded, match: re.Match[str]) -> Json | Raw:
        if not _authorized(recorded, key):
            return Json(DENIED, 401)
        text = f"Title: a page\n\nURL Source: {match['url']}\n\nMarkdown Content:\n# Hello"
        return Raw(text.encode(), content_type="text/plain; charset=utf-8")

    server = ServiceServer(
        {
            ("GET", r"/search/(?P<query>.+)"): search,
            ("GET", r"/reader/(?P<url>.+)"): read,
        }
    )
    server.served_files["page.html"] = (PAGE.encode("latin-1"), "text/html; charset=latin-1")
    return server
