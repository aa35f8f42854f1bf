"""What the media and code service blocks share: the credential, errors, stored results.

Each block names the one provider its ``credentials`` input is for (AutoGPT's provider
names); a node without a reference of its own gets the operator's default key. A
provider failure, a missing key or a result over the file limits comes out on the
``error`` pin. Results that are files (images, videos) are downloaded from the
provider's URL and stored through ``ctx.files``; the block outputs the stored copy's URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from backend.errors import ProviderError
from backend.providers.credentials import CredentialsMetaInput
from backend.providers.downloads import download
from backend.providers.services import ServiceClients, api_key, default_services

from .base import Block, BlockContext, BlockOutput, Isolation
from .files import FileTooLarge, content_type_of

CREDENTIALS_FIELD = "credentials"


def credentials_field(service: str) -> Any:
    """The ``credentials`` input of a block calling ``service``."""
    return Field(
        None,
        description=f"Your {service} API key (a credential reference); without one, the "
        "operator's default key.",
    )


CredentialsRef = CredentialsMetaInput | None


class ServiceBlock(Block):
    """Async, waiting on the network: runs inline; ``outputs`` does the block's work."""

    isolation = Isolation.INLINE
    provider: ClassVar[str]

    async def run(self, input_data: Any, ctx: BlockContext) -> BlockOutput:
        try:
            async for pin, value in self.outputs(input_data, ctx):
                yield pin, value
        except (ProviderError, FileTooLarge) as exc:
            yield "error", str(exc)

    def outputs(self, pins: Any, ctx: BlockContext) -> BlockOutput:
        raise NotImplementedError

    def required_credentials(self, input_data: Mapping[str, Any]) -> dict[str, str]:
        return {CREDENTIALS_FIELD: self.provider}

    def api_key(self, ctx: BlockContext) -> str:
        return api_key(self.provider, ctx.credentials.get(CREDENTIALS_FIELD))

    @staticmethod
    def clients(ctx: BlockContext) -> ServiceClients:
        return ctx.services or default_services()


async def fetch_result(ctx: BlockContext, url: str, max_bytes: int) -> tuple[bytes, str]:
    """The bytes at a provider's result URL and their content type."""
    got = await download(
        url,
        allow_private=ctx.allow_private_network,
        egress=ctx.egress,
        max_bytes=max_bytes,
        deadline=ctx.deadline,
    )
    return got.data, content_type_of(got.name, got.content_type)


async def keep_result(ctx: BlockContext, url: str, name: str) -> str:
    """The URL to output for a provider's result: a stored copy's, or (with no file
    store on the context) the provider's own."""
    if ctx.files is None:
        return url
    got = await download(
        url,
        allow_private=ctx.allow_private_network,
        max_bytes=ctx.files.max_bytes,
        deadline=ctx.deadline,
        egress=ctx.egress,
    )
    stem = name.rsplit(".", 1)[0]
    ext = got.name.rsplit(".", 1)[1] if "." in got.name else name.rpartition(".")[2]
    file_name = f"{stem}.{ext}" if ext else stem
    ref = await ctx.files.save(file_name, content_type_of(file_name, got.content_type), got.data)
    return ref.url
