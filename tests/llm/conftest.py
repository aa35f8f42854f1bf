"""Fixtures for the LLM layer: the scripted server, a client pointed at it, node contexts."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from pydantic import SecretStr

from backend.blocks.base import Block, BlockContext
from backend.providers.credentials import Credentials, CredentialsType
from backend.providers.http import HttpPolicy
from backend.providers.llm import LLMClient
from backend.settings import Settings
from tests.llm_server import LLMServer, serve

# The API key every test sends; it must never show up in an error or a log line.
SECRET = "sk-test-4f1d9c2b7a6e5d3c"
T = TypeVar("T")


class Waits(list[float]):
    """The retry waits asked for, recorded instead of slept."""

    async def sleep(self, seconds: float) -> None:
        self.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def llm_server() -> Iterator[LLMServer]:
    yield from serve()


@pytest.fixture
def waits() -> Waits:
    return Waits()


def client_for(
    server: LLMServer, waits: Waits, *, read_timeout: float = 5.0, **settings: Any
) -> LLMClient:
    url = server.url
    defaults = {
        "openai_base_url": f"{url}/v1",
        "anthropic_base_url": url,
        "open_router_base_url": f"{url}/v1",
        "ollama_host": url,
    }
    configured = Settings(**(defaults | settings))
    policy = HttpPolicy(
        connect_timeout=2.0,
        read_timeout=read_timeout,
        max_retries=2,
        sleep=waits.sleep,
        jitter=lambda: 0.5,
    )
    return LLMClient(configured, policy)


@pytest.fixture
def llm(llm_server: LLMServer, waits: Waits, clean_env: pytest.MonkeyPatch) -> LLMClient:
    return client_for(llm_server, waits)


def credential(provider: str = "openai", secret: str = SECRET) -> Credentials:
    return Credentials(
        provider, CredentialsType.API_KEY, id="cred-1", title="test key", api_key=SecretStr(secret)
    )


def node_context(llm: LLMClient, provider: str | None = "openai", **fields: Any) -> BlockContext:
    credentials = {"credentials": credential(provider)} if provider else {}
    return BlockContext(credentials=credentials, llm=llm, **fields)


def drive(llm: LLMClient, work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` on a fresh event loop, closing the client's connections after it."""

    async def main() -> T:
        try:
            return await work
        finally:
            await llm.aclose()

    return asyncio.run(main())


def run_block(block: Block, data: dict[str, Any], ctx: BlockContext) -> list[tuple[str, Any]]:
    assert ctx.llm is not None

    async def collect() -> list[tuple[str, Any]]:
        return [output async for output in block.execute(data, ctx)]

    return drive(ctx.llm, collect())
