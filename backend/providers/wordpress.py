"""WordPress.com's REST API v1.1 over plain HTTP: creating a post, as AutoGPT's block does.

``POST /rest/v1.1/sites/{site}/posts/new`` takes the post as a form (the site is its ID
or its domain, e.g. ``myblog.wordpress.com``; Jetpack sites are reached the same way).
Categories and tags are sent comma-separated, the images to sideload as the array
``media_urls[]``; the answer is the created post (``ID``, ``URL``, ``short_URL`` and the
rest). The OAuth2 access token goes in ``Authorization: Bearer``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .http import time_budget
from .services import ServiceCall, ServiceClients

PROVIDER = "wordpress"


@dataclass(frozen=True)
class NewPost:
    """What AutoGPT's ``CreatePostRequest`` sends; None and empty lists are left out."""

    title: str
    content: str
    status: str = "publish"
    excerpt: str | None = None
    slug: str | None = None
    author: str | None = None
    featured_image: str | None = None
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    media_urls: list[str] = field(default_factory=list)

    def form(self) -> dict[str, str | list[str]]:
        form: dict[str, str | list[str]] = {
            "title": self.title,
            "content": self.content,
            "status": self.status,
            "type": "post",
            # AutoGPT's defaults for a new post: not sticky, shared and publicized.
            "sticky": "false",
            "publicize": "true",
            "sharing_enabled": "true",
        }
        for name in ("excerpt", "slug", "author", "featured_image"):
            value = getattr(self, name)
            if value is not None:
                form[name] = value
        if self.categories:
            form["categories"] = ",".join(self.categories)
        if self.tags:
            form["tags"] = ",".join(self.tags)
        if self.media_urls:
            form["media_urls[]"] = list(self.media_urls)
        return form


class WordPress:
    def __init__(self, clients: ServiceClients, token: str, deadline: float | None) -> None:
        self.deadline = deadline
        self.call = ServiceCall(
            PROVIDER,
            clients.settings.wordpress_base_url,
            clients.pool.client(),
            token,
            {"Authorization": f"Bearer {token}"},
        )

    async def create_post(self, site: str, post: NewPost) -> dict[str, Any]:
        """The created post as WordPress.com answered it; its ``ID`` is an integer and its
        ``URL`` and ``short_URL`` are text (a malformed answer says which is not)."""
        path = f"/rest/v1.1/sites/{quote(site, safe='')}/posts/new"
        with time_budget(self.deadline):
            answer = await self.call.request("POST", path, data=post.form())
        if not isinstance(answer, dict):
            raise self.call.malformed("the answer is not an object")
        post_id = answer.get("ID")
        if not isinstance(post_id, int) or isinstance(post_id, bool):
            raise self.call.malformed("the post's ID is not a number")
        for name in ("URL", "short_URL"):
            if not isinstance(answer.get(name), str):
                raise self.call.malformed(f"the post's {name} is not text")
        return answer
