"""SearchTheWebBlock and ExtractWebsiteContentBlock: AutoGPT's Jina web blocks (same ids,
pins and defaults)."""

from __future__ import annotations

from collections.abc import Mapping
from email.message import Message
from typing import Any

from pydantic import Field

from backend.errors import ProviderError
from backend.providers.downloads import DownloadTooLarge, download
from backend.providers.jina import Jina

from .base import BlockContext, BlockOutput, BlockSchema, TestVector
from .service_base import CredentialsRef, ServiceBlock, credentials_field

NO_KEY = (
    "this block needs an API key for provider jina: give the node a credential for it "
    "or set the operator's default key"
)


class SearchTheWebBlock(ServiceBlock):
    """Searches the web with Jina: the results come with the content of the top pages,
    as one markdown text."""

    id = "87840993-2053-44b7-8da4-187ad4ee518c"
    description = "Searches the web for a query (Jina); outputs the results with page content."
    categories = ("SEARCH",)
    provider = "jina"

    class Input(BlockSchema):
        credentials: CredentialsRef = credentials_field("Jina")
        query: str = Field(description="The search query to search the web for.")

    class Output(BlockSchema):
        results: str = Field(description="The search results, with the content of the top pages.")

    test_vectors = (TestVector({"query": "Artificial Intelligence"}, [("error", NO_KEY)]),)

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        jina = Jina(self.clients(ctx), self.api_key(ctx), ctx.deadline)
        yield "results", await jina.search(pins.query)


class ExtractWebsiteContentBlock(ServiceBlock):
    """The content of a web page: through Jina's reader (markdown), or with
    ``raw_content`` the page itself, fetched by the server.

    A raw fetch goes to an address the graph author chose, so it follows the operator's
    network policy (public addresses only, unless private network access is allowed)
    and needs no Jina key. The page may be at most the node's output limit.
    """

    id = "436c3984-57fd-4b85-8e9a-459b356883bd"
    description = "Scrapes the content of a web page, through Jina's reader or raw."
    categories = ("SEARCH",)
    provider = "jina"

    class Input(BlockSchema):
        credentials: CredentialsRef = credentials_field("Jina")
        url: str = Field(description="The URL to scrape the content from.")
        raw_content: bool = Field(
            False,
            title="Raw Content",
            description="Fetch the page as it is instead of through Jina's reader.",
        )

    class Output(BlockSchema):
        content: str = Field(description="The scraped content of the page.")

    test_vectors = (
        TestVector({"url": "https://en.wikipedia.org/wiki/AI"}, [("error", NO_KEY)]),
        TestVector(
            {"url": "http://127.0.0.1:9/", "raw_content": True},
            [
                (
                    "error",
                    "cannot download the page: refusing to connect to 127.0.0.1: 127.0.0.1 is "
                    "a loopback address (private network access is disabled)",
                )
            ],
        ),
        TestVector(
            {"url": "file:///etc/passwd", "raw_content": True},
            [("error", "cannot download the page: file URL scheme")],
        ),
    )

    def required_credentials(self, input_data: Mapping[str, Any]) -> dict[str, str]:
        if input_data.get("raw_content") is True:
            return {}
        return super().required_credentials(input_data)

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        if pins.raw_content:
            yield "content", await fetch_page(ctx, pins.url)
            return
        jina = Jina(self.clients(ctx), self.api_key(ctx), ctx.deadline)
        yield "content", await jina.read(pins.url)


async def fetch_page(ctx: BlockContext, url: str) -> str:
    """The text of the page at ``url``, fetched under the network policy."""
    limit = ctx.max_output_bytes
    try:
        page = await download(
            url,
            allow_private=ctx.allow_private_network,
            egress=ctx.egress,
            max_bytes=limit,
            deadline=ctx.deadline,
            what="the page",
        )
    except DownloadTooLarge:
        raise ProviderError(
            f"the page is larger than the node's output limit of {limit} bytes"
        ) from None
    header = Message()
    header["content-type"] = page.content_type or "text/html"
    charset = header.get_content_charset() or "utf-8"
    try:
        return page.data.decode(charset, errors="replace")
    except LookupError:
        return page.data.decode("utf-8", errors="replace")
