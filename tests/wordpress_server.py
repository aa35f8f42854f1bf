"""A fake public-api.wordpress.com: the OAuth2 authorize page (which grants at once and
sends the browser back with a code), the token endpoint (authorization_code only: its
server-side tokens never expire and come with no refresh token), creating a post with
``POST /rest/v1.1/sites/{site}/posts/new`` and listing a public site's posts with
``GET /rest/v1.1/sites/{site}/posts/`` (no token needed), as WordPress.com's developer
documentation describes them."""

from __future__ import annotations

import itertools
import re
import urllib.parse
from typing import Any

from tests.service_server import Json, Raw, Recorded, ServiceServer

TOKEN = "wpcom-test-access-0a1b2c3d4e5f"
CLIENT_ID = "12345"
CLIENT_SECRET = "wpcom-client-secret-9z8y7x"
BLOG_URL = "https://myblog.wordpress.com"
DENIED = {"error": "authorization_required", "message": "An active access token must be used"}


class WordPressServer(ServiceServer):
    def __init__(self, token: str = TOKEN) -> None:
        self.tokens = {token}
        self.codes: dict[str, str] = {}  # code -> the redirect_uri it was given for
        self.issued: list[str] = []
        self.posts: list[dict[str, Any]] = []
        # Posts a site had before the test: their titles, listed before the created ones.
        self.published = ["Dialling in a new bag of beans", "Milk steaming for beginners"]
        self._serial = itertools.count(1)
        super().__init__(
            {
                ("GET", r"/oauth2/authorize"): self._authorize,
                ("POST", r"/oauth2/token"): self._token,
                ("POST", r"/rest/v1\.1/sites/(?P<site>[^/]+)/posts/new"): self._new_post,
                ("GET", r"/rest/v1\.1/sites/(?P<site>[^/]+)/posts/?"): self._list_posts,
            }
        )

    @property
    def auth_url(self) -> str:
        return f"{self.url}/oauth2/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.url}/oauth2/token"

    def _authorize(self, recorded: Recorded, match: re.Match[str]) -> Raw:
        q = recorded.query
        if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
            return Raw(b"bad client", 400, "text/plain")
        code = f"wpcode-{next(self._serial)}"
        self.codes[code] = q["redirect_uri"]
        back = q["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": q["state"]})
        return Raw(b"", 302, "text/plain", {"Location": back})

    def _token(self, recorded: Recorded, match: re.Match[str]) -> Json:
        form = dict(urllib.parse.parse_qsl(recorded.body.decode()))
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return Json({"error": "invalid_client"}, 400)
        if form.get("grant_type") != "authorization_code":
            return Json({"error": "unsupported_grant_type"}, 400)
        redirect_uri = self.codes.pop(form.get("code", ""), None)  # a code is used once
        if redirect_uri is None or redirect_uri != form.get("redirect_uri"):
            return Json({"error": "invalid_grant"}, 400)
        token = f"wpcom-access-{next(self._serial)}"
        self.tokens.add(token)
        self.issued.append(token)
        return Json(
            {
                "access_token": token,
                "token_type": "bearer",
                "blog_id": "4242",
                "blog_url": BLOG_URL,
            }
        )

    def _new_post(self, recorded: Recorded, match: re.Match[str]) -> Json:
        auth = recorded.headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in self.tokens:
            return Json(DENIED, 401)
        form = urllib.parse.parse_qs(recorded.body.decode())
        fields = {k: v[0] for k, v in form.items() if not k.endswith("[]")}
        post_id = 100 + len(self.posts)
        site = urllib.parse.unquote(match["site"])
        slug = fields.get("slug") or re.sub(r"[^a-z0-9]+", "-", fields["title"].lower()).strip("-")
        post = {
            "ID": post_id,
            "site_ID": 4242,
            "author": {"ID": 7, "login": "alice", "name": "Alice", "nice_name": "alice"},
            "date": "2026-12-03T10:00:00+00:00",
            "modified": "2026-12-03T10:00:00+00:00",
            "title": fields["title"],
            "URL": f"https://{site}/2026/12/03/{slug}/",
            "short_URL": f"https://wp.me/p4242-{post_id}",
            "content": fields.get("content", ""),
            "excerpt": fields.get("excerpt", ""),
            "slug": slug,
            "status": fields.get("status", "publish"),
            "sticky": fields.get("sticky") == "true",
            "type": fields.get("type", "post"),
            "featured_image": fields.get("featured_image", ""),
            "categories": {name: {"name": name} for name in _split(fields.get("categories"))},
            "tags": {name: {"name": name} for name in _split(fields.get("tags"))},
            "attachments": {
                str(i): {"URL": url} for i, url in enumerate(form.get("media_urls[]", []))
            },
        }
        self.posts.append(post)
        return Json(post)

    def _list_posts(self, recorded: Recorded, match: re.Match[str]) -> Json:
        site = urllib.parse.unquote(match["site"])
        posts = [_listed(title, i + 1, site) for i, title in enumerate(self.published)]
        posts += [{k: p[k] for k in ("ID", "title", "URL", "status")} for p in self.posts]
        return Json({"found": len(posts), "posts": posts, "meta": {"links": {}}})


def _listed(title: str, number: int, site: str) -> dict[str, Any]:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return {"ID": number, "title": title, "URL": f"https://{site}/{slug}/", "status": "publish"}


def _split(value: str | None) -> list[str]:
    return [part for part in (value or "").split(",") if part]
