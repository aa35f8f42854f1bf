"""WordPressCreatePostBlock: AutoGPT's WordPress block (same id, pins and outputs), run with
the access token of the node's WordPress.com OAuth2 credential."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from backend.providers.oauth import WORDPRESS
from backend.providers.services import access_token
from backend.providers.wordpress import NewPost, WordPress

from .base import BlockContext, BlockOutput, BlockSchema, TestVector
from .service_base import CREDENTIALS_FIELD, CredentialsRef, ServiceBlock

NO_ACCOUNT = (
    "this block needs a connected wordpress account (an OAuth2 credential): connect one at "
    "/ui/credentials and set the node's credentials input to it"
)


def _optional(description: str) -> Any:
    return Field(None, description=description)


def _names(description: str) -> Any:
    return Field(default_factory=list, description=description)


class WordPressCreatePostBlock(ServiceBlock):
    """Creates a post on a WordPress.com (or Jetpack) site and publishes it, or keeps it as
    a draft with ``publish_as_draft``: ``post_id``, ``post_url``, ``short_url`` and the
    whole answer on ``post_data``; ``site`` passes the site on for the next block."""

    id = "ee4fe08c-18f9-442f-a985-235379b932e1"
    description = "Create a new post on WordPress.com or Jetpack sites"
    categories = ("SOCIAL",)
    provider = WORDPRESS

    class Input(BlockSchema):
        credentials: CredentialsRef = Field(
            None, description="A connected WordPress.com account (an OAuth2 credential)."
        )
        site: str = Field(
            description="Site ID or domain (e.g., 'myblog.wordpress.com' or '123456789')"
        )
        title: str = Field(description="The post title")
        content: str = Field(description="The post content (HTML supported)")
        excerpt: str | None = _optional("An optional post excerpt/summary")
        slug: str | None = _optional("The URL slug for the post (auto-generated if not provided)")
        author: str | None = _optional(
            "Username or ID of the author (defaults to authenticated user)"
        )
        categories: list[str] = _names("List of category names or IDs")
        tags: list[str] = _names("List of tag names or IDs")
        featured_image: str | None = _optional(
            "Post ID of an existing attachment to set as featured image"
        )
        media_urls: list[str] = _names("URLs of images to sideload and attach to the post")
        publish_as_draft: bool = Field(
            False,
            description="If True, publishes the post as a draft. If False, publishes it publicly.",
        )

    class Output(BlockSchema):
        site: str = Field(
            description="The site ID or domain (pass-through for chaining with other blocks)"
        )
        post_id: int = Field(description="The ID of the created post")
        post_url: str = Field(description="The full URL of the created post")
        short_url: str = Field(description="The shortened wp.me URL")
        post_data: dict[str, Any] = Field(description="Complete post data returned by API")

    test_vectors = (
        TestVector(
            {"site": "myblog.wordpress.com", "title": "Hello", "content": "<p>Hi</p>"},
            [("error", NO_ACCOUNT)],
        ),
    )

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        token = access_token(self.provider, ctx.credentials.get(CREDENTIALS_FIELD))
        post = NewPost(
            title=pins.title,
            content=pins.content,
            status="draft" if pins.publish_as_draft else "publish",
            excerpt=pins.excerpt,
            slug=pins.slug,
            author=pins.author,
            featured_image=pins.featured_image,
            categories=pins.categories,
            tags=pins.tags,
            media_urls=pins.media_urls,
        )
        answer = await WordPress(self.clients(ctx), token, ctx.deadline).create_post(
            pins.site, post
        )
        yield "site", pins.site
        yield "post_id", answer["ID"]
        yield "post_url", answer["URL"]
        yield "short_url", answer["short_URL"]
        yield "post_data", answer
