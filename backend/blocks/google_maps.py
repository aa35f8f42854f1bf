"""GoogleMapsSearchBlock: AutoGPT's Google Maps place search (same id, pins and defaults)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from backend.providers.google_maps import GoogleMaps

from .base import BlockContext, BlockOutput, BlockSchema, TestVector
from .service_base import CredentialsRef, ServiceBlock, credentials_field

NO_KEY = (
    "this block needs an API key for provider google_maps: give the node a credential for "
    "it or set the operator's default key"
)


class GoogleMapsSearchBlock(ServiceBlock):
    """Searches Google Maps (Places API, text search) and yields each place found.

    Each ``place`` is a dictionary: name, address, phone, rating, reviews, website,
    place_id, latitude, longitude and google_maps_url, as AutoGPT's ``Place``. As in
    AutoGPT, ``radius`` is accepted but not sent: a radius needs a centre point, which
    the block has none of, so the area belongs in the query.
    """

    id = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
    description = "Searches Google Maps for places matching a text query; yields each place."
    categories = ("SEARCH",)
    provider = "google_maps"

    class Input(BlockSchema):
        credentials: CredentialsRef = credentials_field("Google Maps")
        query: str = Field(
            description="Search query for local businesses, e.g. 'restaurants in New York'."
        )
        radius: int = Field(
            5000,
            ge=1,
            le=50000,
            description="Not used (Google needs a centre point for a radius): name the area "
            "in the query. Kept so existing agents load.",
        )
        max_results: int = Field(
            20, ge=1, le=60, description="Maximum number of places to return (at most 60)."
        )

    class Output(BlockSchema):
        place: dict[str, Any] = Field(
            description="A place found: name, address, phone, rating, reviews, website, "
            "place_id, latitude, longitude, google_maps_url."
        )

    test_vectors = (TestVector({"query": "restaurants in new york"}, [("error", NO_KEY)]),)

    async def outputs(self, pins: Input, ctx: BlockContext) -> BlockOutput:
        maps = GoogleMaps(self.clients(ctx), self.api_key(ctx), ctx.deadline)
        places = await maps.search(pins.query, pins.max_results)
        for place in places:
            yield "place", place
