"""Downloading a provider's result: the network policy, size and time limits, clean errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from backend.errors import ProviderError
from backend.providers.downloads import Download, DownloadTooLarge, download
from tests.service_server import PNG, Hold, ServiceServer


@pytest.fixture
def cdn() -> Iterator[ServiceServer]:
    with ServiceServer({}) as server:
        yield server


def fetch(url: str, *, allow_private: bool = True, max_bytes: int = 1 << 20, seconds: float = 10):
    return asyncio.run(
        download(
            url,
            allow_private=allow_private,
            max_bytes=max_bytes,
            deadline=time.monotonic() + seconds,
        )
    )


def test_a_result_is_downloaded_with_its_type_and_name(cdn: ServiceServer) -> None:
    assert fetch(cdn.file_url() + "?token=abc") == Download(PNG, "image/png", "image.png")


def test_private_addresses_need_the_operators_permission(cdn: ServiceServer) -> None:
    with pytest.raises(ProviderError, match="is a loopback address"):
        fetch(cdn.file_url(), allow_private=False)
    assert cdn.requests == []


def test_a_larger_file_than_allowed_is_refused(cdn: ServiceServer) -> None:
    with pytest.raises(DownloadTooLarge, match="larger than the file limit of 10 bytes"):
        fetch(cdn.file_url(), max_bytes=10)


def test_errors_name_the_host_but_never_the_query(cdn: ServiceServer) -> None:
    with pytest.raises(ProviderError) as caught:
        fetch(f"{cdn.url}/files/missing.png?X-Amz-Signature=s3cr3t")
    assert str(caught.value) == "downloading the result from 127.0.0.1 failed: HTTP 404 Not Found"


def test_only_http_urls_are_fetched() -> None:
    with pytest.raises(ProviderError, match="file URL scheme"):
        fetch("file:///etc/passwd")


def test_a_stalled_download_ends_at_the_deadline(cdn: ServiceServer) -> None:
    cdn.script("/files/slow.png", Hold())
    started = time.monotonic()
    with pytest.raises(ProviderError, match="did not finish within the node's time limit"):
        fetch(f"{cdn.url}/files/slow.png", seconds=0.5)
    assert time.monotonic() - started < 5
