"""Helpers for the media and code service blocks: clients pointed at a fake service,
node contexts with a credential, a file sink in a folder and a deadline."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from backend.blocks.base import Block, BlockContext
from backend.blocks.files import DirectoryFileSink
from backend.providers.credentials import Credentials, CredentialsType
from backend.providers.http import HttpPolicy
from backend.providers.services import ServiceClients
from backend.settings import Settings


class Waits(list[float]):
    """The retry waits the HTTP client asked for, recorded instead of slept."""

    async def sleep(self, seconds: float) -> None:
        self.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def waits() -> Waits:
    return Waits()


def service_clients(waits: Waits, **settings: Any) -> ServiceClients:
    policy = HttpPolicy(
        connect_timeout=2.0, read_timeout=5.0, max_retries=2, sleep=waits.sleep, jitter=lambda: 0.5
    )
    return ServiceClients(Settings(**settings), policy)


def context(
    clients: ServiceClients,
    provider: str,
    key: str,
    files: Path | None,
    *,
    seconds: float = 30.0,
    **fields: Any,
) -> BlockContext:
    """A node's context: its credential, a sink writing to ``files``, ``seconds`` to run."""
    credential = Credentials(
        provider, CredentialsType.API_KEY, id="cred-1", title="test key", api_key=SecretStr(key)
    )
    fields.setdefault("allow_private_network", True)  # the fake services listen on 127.0.0.1
    return BlockContext(
        credentials={"credentials": credential},
        services=clients,
        files=DirectoryFileSink(files, max_bytes=1024 * 1024) if files else None,
        deadline=time.monotonic() + seconds,
        **fields,
    )


def run_block(block: Block, data: dict[str, Any], ctx: BlockContext) -> list[tuple[str, Any]]:
    """The block's outputs, run to the end on a fresh loop (its connections closed after)."""
    assert ctx.services is not None
    clients = ctx.services

    async def collect() -> list[tuple[str, Any]]:
        try:
            return [output async for output in block.execute(data, ctx)]
        finally:
            await clients.aclose()

    return asyncio.run(collect())


def stored_file(outputs: list[tuple[str, Any]], pin: str) -> bytes:
    """The bytes of the file a block output on ``pin`` (a DirectoryFileSink URL)."""
    [url] = [value for name, value in outputs if name == pin]
    assert url.startswith("file://"), outputs
    return Path(url.removeprefix("file://")).read_bytes()
