"""AutoGPT's Firecrawl blocks (same ids, pins and defaults): map a site, crawl it, extract
structured data from pages."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from backend.providers.firecrawl import Firecrawl

from .base import BlockContext, BlockOutput, BlockSchema, TestVector
from .service_base import CredentialsRef, ServiceBlock, credentials_field

NO_KEY = (
    "this block needs an API key for provider firecrawl: give the node a credential for "
    "it or set the operator's default key"
)
# Crawls and extractions run for minutes; a node timeout overrides this.
JOB_TIMEOUT_SECONDS = 600.0


class ScrapeFormat(StrEnum):
    MARKDOWN = "markdown"
    HTML = "html"
    RAW_HTML = "rawHtml"
    LINKS = "links"
    SCREENSHOT = "screenshot"
    SCREENSHOT_FULL_PAGE = "screenshot@fullPage"
    JSON = "json"
    CHANGE_TRACKING = "changeTracking"


# format -> (output pin, key of the crawled page holding it)
FORMAT_PINS = {
    ScrapeFormat.MARKDOWN: ("markdown", "markdown"),
    ScrapeFormat.HTML: ("html", "html"),
    ScrapeFormat.RAW_HTML: ("raw_html", "raw_html"),
    ScrapeFormat.LINKS: ("links", "links"),
    ScrapeFormat.SCREENSHOT: ("screenshot", "screenshot"),
    ScrapeFormat.SCREENSHOT_FULL_PAGE: ("screenshot_full_page", "screenshot"),
    ScrapeFormat.JSON: ("json_data", "json"),
    ScrapeFormat.CHANGE_TRACKING: ("change_tracking", "change_tracking"),
}


class FirecrawlMapWebsiteBlock(ServiceBlock):
    """Lists the URLs of a website (Firecrawl's map), with titles and descriptions where
    Firecrawl knows them."""

    id = "f0f43e2b-c943-48a0-a7f1-40136ca4d3b9"
    description = "Maps a website with Firecrawl: every link found on it."
    categories = ("SEARCH",)
    provider = "firecrawl"

    class Input(BlockSchema):
        credentials: CredentialsRef = credentials_field("Firecrawl")
        url: str = Field(description="The website URL to map.")

    class Output(BlockSchema):
        links: list[str] = Field(description="The URLs found on the website.")
        results: list[dict[str, Any]] = Field(
            description="The links found, each with url, title and description."
        )

    test_vectors = (TestVector({"url": "https://example.com"}, [("error", NO_KEY)]),)

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        firecrawl = Firecrawl(self.clients(ctx), self.api_key(ctx), ctx.deadline)
        found = await firecrawl.map(pins.url)
        yield "links", [link["url"] for link in found]
        yield "results", found


class FirecrawlCrawlBlock(ServiceBlock):
    """Crawls a website with Firecrawl and outputs its pages.

    ``data`` carries every crawled page (AutoGPT's key names: ``raw_html``,
    ``change_tracking``); then, page by page, each chosen format comes out on its own
    pin. A page without a format's content yields nothing there (AutoGPT yields None).
    JSON content comes out on ``json_data``, the pin AutoGPT declares.
    """

    id = "bdbbaba0-03b7-4971-970e-699e2de6015e"
    description = "Crawls a website with Firecrawl; outputs each page in the chosen formats."
    categories = ("SEARCH",)
    provider = "firecrawl"
    timeout_seconds = JOB_TIMEOUT_SECONDS

    class Input(BlockSchema):
        credentials: CredentialsRef = credentials_field("Firecrawl")
        url: str = Field(description="The URL to crawl.")
        limit: int = Field(10, description="The number of pages to crawl.")
        only_main_content: bool = Field(
            True, description="Only the main content of each page: no headers, navs, footers."
        )
        max_age: int = Field(
            3600000, description="Use a cached page up to this age (milliseconds; 1 hour)."
        )
        wait_for: int = Field(0, description="Wait this long before fetching (milliseconds).")
        formats: list[ScrapeFormat] = Field(
            default_factory=lambda: [ScrapeFormat.MARKDOWN], description="The formats wanted."
        )

    class Output(BlockSchema):
        data: list[dict[str, Any]] = Field(description="Every crawled page.")
        markdown: str = Field(description="A page's markdown.")
        html: str = Field(description="A page's cleaned HTML.")
        raw_html: str = Field(description="A page's raw HTML.")
        links: list[str] = Field(description="A page's links.")
        screenshot: str = Field(description="A page's screenshot (URL).")
        screenshot_full_page: str = Field(description="A page's full-page screenshot (URL).")
        json_data: dict[str, Any] = Field(description="A page's JSON content.")
        change_tracking: dict[str, Any] = Field(description="A page's change tracking.")

    test_vectors = (TestVector({"url": "https://example.com"}, [("error", NO_KEY)]),)

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        firecrawl = Firecrawl(self.clients(ctx), self.api_key(ctx), ctx.deadline)
        pages = await firecrawl.crawl(
            {
                "url": pins.url,
                "limit": pins.limit,
                "scrapeOptions": {
                    "formats": [f.value for f in pins.formats],
                    "onlyMainContent": pins.only_main_content,
                    "maxAge": pins.max_age,
                    "waitFor": pins.wait_for,
                },
            }
        )
        yield "data", pages
        for page in pages:
            for chosen in pins.formats:
                pin, key = FORMAT_PINS[chosen]
                if page.get(key) is not None:
                    yield pin, page[key]


class FirecrawlExtractBlock(ServiceBlock):
    """Extracts structured data from pages with Firecrawl's LLM extraction: by a prompt,
    a JSON schema, or both."""

    id = "d1774756-4d9e-40e6-bab1-47ec0ccd81b2"
    description = "Extracts structured data from web pages with Firecrawl, by prompt or schema."
    categories = ("SEARCH",)
    provider = "firecrawl"
    timeout_seconds = JOB_TIMEOUT_SECONDS

    class Input(BlockSchema):
        credentials: CredentialsRef = credentials_field("Firecrawl")
        urls: list[str] = Field(
            description="The URLs to extract from (at least one); wildcards allowed (/*)."
        )
        prompt: str | None = Field(None, description="What to extract, in words.")
        output_schema: dict[str, Any] | None = Field(
            None, description="A JSON schema the extracted data must follow."
        )
        enable_web_search: bool = Field(
            False, description="Let the extraction follow links outside the given domains."
        )

    class Output(BlockSchema):
        data: dict[str, Any] = Field(description="The extracted data.")

    test_vectors = (TestVector({"urls": ["https://example.com"]}, [("error", NO_KEY)]),)

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        firecrawl = Firecrawl(self.clients(ctx), self.api_key(ctx), ctx.deadline)
        body: dict[str, Any] = {"urls": pins.urls, "enableWebSearch": pins.enable_web_search}
        if pins.prompt is not None:
            body["prompt"] = pins.prompt
        if pins.output_schema is not None:
            body["schema"] = pins.output_schema
        yield "data", await firecrawl.extract(body)
