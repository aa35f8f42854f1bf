"""DataForSeoKeywordSuggestionsBlock and DataForSeoRelatedKeywordsBlock: AutoGPT's
DataForSEO Labs keyword blocks (same ids, pins, defaults and credential: a DataForSEO API
username and password)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from backend.errors import ProviderError
from backend.providers.dataforseo import DataForSeo
from backend.providers.services import login

from .base import BlockContext, BlockOutput, BlockSchema, TestVector
from .service_base import CREDENTIALS_FIELD, CredentialsRef, ServiceBlock

NO_LOGIN = (
    "this block needs a username and password for provider dataforseo: give the node a "
    "credential for it or set the operator's default login"
)
KEYWORD_FIELDS = (
    "keyword, search_volume, competition, cpc, keyword_difficulty, serp_info, clickstream_data"
)


def _credentials() -> Any:
    return Field(
        None,
        description="Your DataForSEO API username and password (a credential reference); "
        "without one, the operator's default login.",
    )


class KeywordInput(BlockSchema):
    """The pins both keyword blocks share (AutoGPT's names and defaults)."""

    credentials: CredentialsRef = _credentials()
    keyword: str = Field(description="The seed keyword.")
    location_code: int | None = Field(
        2840, description="Location code for targeting (e.g. 2840 for the USA)."
    )
    language_code: str | None = Field("en", description="Language code (e.g. 'en' for English).")
    include_seed_keyword: bool = Field(True, description="Include the seed keyword in results.")
    include_serp_info: bool = Field(False, description="Include SERP information.")
    include_clickstream_data: bool = Field(False, description="Include clickstream metrics.")
    limit: int = Field(100, ge=1, le=3000, description="Maximum number of results (up to 3000).")


def task_of(pins: KeywordInput, **extra: Any) -> dict[str, Any]:
    """The DataForSEO task for ``pins``: unset (None) options are left out, as AutoGPT does."""
    task: dict[str, Any] = {"keyword": pins.keyword}
    options = {
        "location_code": pins.location_code,
        "language_code": pins.language_code,
        "include_seed_keyword": pins.include_seed_keyword,
        "include_serp_info": pins.include_serp_info,
        "include_clickstream_data": pins.include_clickstream_data,
        "limit": pins.limit,
        **extra,
    }
    task.update({name: value for name, value in options.items() if value is not None})
    return task


def _number(value: Any, kind: type[int] | type[float], name: str) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProviderError(f"dataforseo sent a malformed answer: {name} is not a number")
    return kind(value)


def _object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProviderError(f"dataforseo sent a malformed answer: {name} is not an object")
    return value


def keyword_of(data: dict[str, Any], pins: KeywordInput) -> dict[str, Any]:
    """One keyword of the answer in AutoGPT's ``KeywordSuggestion``/``RelatedKeyword`` shape."""
    info = _object(data.get("keyword_info"), "keyword_info")
    properties = _object(data.get("keyword_properties"), "keyword_properties")
    keyword = data.get("keyword", "")
    if not isinstance(keyword, str):
        raise ProviderError("dataforseo sent a malformed answer: keyword is not text")
    return {
        "keyword": keyword,
        "search_volume": _number(info.get("search_volume"), int, "search_volume"),
        "competition": _number(info.get("competition"), float, "competition"),
        "cpc": _number(info.get("cpc"), float, "cpc"),
        "keyword_difficulty": _number(
            properties.get("keyword_difficulty"), int, "keyword_difficulty"
        ),
        "serp_info": _optional(data, "serp_info") if pins.include_serp_info else None,
        "clickstream_data": (
            _optional(data, "clickstream_keyword_info") if pins.include_clickstream_data else None
        ),
    }


def _optional(data: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = data.get(name)
    return None if value is None else _object(value, name)


class _DataForSeoBlock(ServiceBlock):
    categories = ("SEARCH", "DATA")
    provider = "dataforseo"

    def client(self, ctx: BlockContext) -> DataForSeo:
        credential = login(self.provider, ctx.credentials.get(CREDENTIALS_FIELD))
        return DataForSeo(self.clients(ctx), credential, ctx.deadline)


class DataForSeoKeywordSuggestionsBlock(_DataForSeoBlock):
    """Keyword suggestions for a seed keyword (DataForSEO Labs, Google): each suggestion
    with its metrics on ``suggestion`` as it comes, then the whole list, its length and the
    seed keyword, as AutoGPT does."""

    id = "73c3e7c4-2b3f-4e9f-9e3e-8f7a5c3e2d45"
    description = "Gets keyword suggestions from the DataForSEO Labs Google API."

    class Input(KeywordInput):
        keyword: str = Field(description="Seed keyword to get suggestions for.")

    class Output(BlockSchema):
        suggestions: list[dict[str, Any]] = Field(
            description=f"The keyword suggestions with metrics ({KEYWORD_FIELDS})."
        )
        suggestion: dict[str, Any] = Field(
            description="A single keyword suggestion with its metrics."
        )
        total_count: int = Field(description="Total number of suggestions returned.")
        seed_keyword: str = Field(description="The seed keyword used for the query.")

    test_vectors = (TestVector({"keyword": "digital marketing"}, [("error", NO_LOGIN)]),)

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        items = await self.client(ctx).keyword_suggestions(task_of(pins))
        suggestions = [keyword_of(item, pins) for item in items]
        for suggestion in suggestions:
            yield "suggestion", suggestion
        yield "suggestions", suggestions
        yield "total_count", len(suggestions)
        yield "seed_keyword", pins.keyword


class DataForSeoRelatedKeywordsBlock(_DataForSeoBlock):
    """Keywords related to a seed keyword (DataForSEO Labs, Google, the "searches related
    to" graph to ``depth``): each on ``related_keyword``, then the whole list, its length
    and the seed keyword, as AutoGPT does."""

    id = "8f2e4d6a-1b3c-4a5e-9d7f-2c8e6a4b3f1d"
    description = "Gets related keywords from the DataForSEO Labs Google API."

    class Input(KeywordInput):
        keyword: str = Field(description="Seed keyword to find related keywords for.")
        depth: int = Field(
            1,
            ge=0,
            le=4,
            description="Keyword search depth (0-4): 0 gives 1 keyword, 1 about 8, 2 about "
            "72, 3 about 584, 4 about 4680.",
        )

    class Output(BlockSchema):
        related_keywords: list[dict[str, Any]] = Field(
            description=f"The related keywords with metrics ({KEYWORD_FIELDS})."
        )
        related_keyword: dict[str, Any] = Field(description="A related keyword with metrics.")
        total_count: int = Field(description="Total number of related keywords returned.")
        seed_keyword: str = Field(description="The seed keyword used for the query.")

    test_vectors = (TestVector({"keyword": "content marketing"}, [("error", NO_LOGIN)]),)

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        items = await self.client(ctx).related_keywords(task_of(pins, depth=pins.depth))
        related = [keyword_of(_object(i.get("keyword_data"), "keyword_data"), pins) for i in items]
        for keyword in related:
            yield "related_keyword", keyword
        yield "related_keywords", related
        yield "total_count", len(related)
        yield "seed_keyword", pins.keyword
