"""Fetching a file a provider made (an image, a video) from the URL it answered with.

The URL comes from a third party, so it goes through the operator's network policy
(``guarded_opener``) like any user-given URL. urllib blocks, so the download runs in a
thread; every socket read has a timeout, the whole download ends by the node's deadline
and stops at ``max_bytes``, and a cancelled node stops it at the next chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from backend.errors import ProviderError

from .egress import DIRECT, Egress
from .network import NetworkPolicyError, guarded_opener

CHUNK_BYTES = 256 * 1024
SOCKET_TIMEOUT_SECONDS = 30.0
# The whole download, when the node has no deadline of its own.
DEFAULT_TIMEOUT_SECONDS = 600.0


@dataclass(frozen=True)
class Download:
    data: bytes
    content_type: str | None  # as the server declared it
    name: str  # the last part of the URL's path ("" when it has none)


class DownloadTooLarge(ProviderError):
    """The file is larger than the caller allows."""


async def download(
    url: str,
    *,
    allow_private: bool,
    max_bytes: int,
    deadline: float | None,
    what: str = "the result",
    egress: Egress = DIRECT,
) -> Download:
    """The bytes at ``url`` (http or https); ProviderError for every failure, whose
    message calls the file ``what``."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderError(f"cannot download {what}: {parts.scheme or 'no'} URL scheme")
    limit = DEFAULT_TIMEOUT_SECONDS if deadline is None else deadline - time.monotonic()
    if limit <= 0:
        raise ProviderError(f"no time left in the node's time limit to download {what}")
    stop = threading.Event()
    ends_at = time.monotonic() + limit
    try:
        async with asyncio.timeout(limit):
            return await asyncio.to_thread(
                _fetch, url, allow_private, egress, max_bytes, ends_at, stop, host, what
            )
    except TimeoutError:
        raise ProviderError(
            f"downloading {what} from {host} did not finish within the node's time limit"
        ) from None
    finally:
        stop.set()  # the thread, if still reading, gives up at its next chunk


def _fetch(
    url: str,
    allow_private: bool,
    egress: Egress,
    max_bytes: int,
    ends_at: float,
    stop: threading.Event,
    host: str,
    what: str,
) -> Download:
    opener = guarded_opener(allow_private, egress)
    timeout = max(0.1, min(SOCKET_TIMEOUT_SECONDS, ends_at - time.monotonic()))
    # The query may hold a signed token: messages name the host only.
    try:
        with opener.open(urllib.request.Request(url, method="GET"), timeout=timeout) as answer:
            declared = answer.headers.get("Content-Length")
            with contextlib.suppress(ValueError):
                if declared is not None and int(declared) > max_bytes:
                    raise _too_large(what, host, max_bytes)
            chunks: list[bytes] = []
            size = 0
            while chunk := answer.read(CHUNK_BYTES):
                if stop.is_set() or time.monotonic() > ends_at:
                    raise ProviderError(f"downloading {what} from {host} was stopped")
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(what, host, max_bytes)
                chunks.append(chunk)
            final = urllib.parse.urlsplit(answer.geturl()).path
            return Download(
                b"".join(chunks), answer.headers.get("Content-Type"), posixpath.basename(final)
            )
    except urllib.error.HTTPError as exc:
        exc.close()
        raise ProviderError(
            f"downloading {what} from {host} failed: HTTP {exc.code} {exc.reason}"
        ) from None
    except NetworkPolicyError as exc:
        raise ProviderError(f"cannot download {what}: {exc}") from None
    except urllib.error.URLError as exc:
        raise ProviderError(f"downloading {what} from {host} failed: {exc.reason}") from None
    except (OSError, ValueError) as exc:  # timeouts, resets, protocol errors
        raise ProviderError(f"downloading {what} from {host} failed: {exc}") from None


def _too_large(what: str, host: str, max_bytes: int) -> DownloadTooLarge:
    return DownloadTooLarge(
        f"{what} at {host} is larger than the file limit of {max_bytes} bytes "
        "(BACKEND_MAX_FILE_BYTES)"
    )
