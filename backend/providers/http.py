"""The HTTP client every provider SDK sends through: timeouts, retries, the node's time budget.

The SDKs' own retries are switched off; ``RetryingTransport`` sits under them instead, so
both providers behave the same: connection failures, 408, 429 and 5xx answers are tried
again after a capped, jittered backoff, or after the server's Retry-After. A call that is
not safe to repeat (POST or PATCH without an Idempotency-Key: it may create a record) is
tried again only when nothing reached the server (the connection failed) or after a 429
(the server refused it unread); a 5xx or a lost answer may mean it was done. Every attempt
and every wait must end before the running node's deadline (``time_budget``): a wait that
would not fit is not started, and the last answer or error goes back to the SDK at once.
Cancelling the awaiting task closes the connection of the call in flight. Every client
here goes out the way the operator's ``Egress`` says (proxy, extra CAs).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import email.utils
import logging
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import httpx2

from .egress import DIRECT, Egress

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})
# A Retry-After longer than this is treated as "not soon": the call fails instead of waiting.
MAX_RETRY_AFTER_SECONDS = 60.0
# Connection-level failures worth another try (refused, reset, closed mid-answer).
_RETRY_ERRORS = (
    httpx2.ConnectError,
    httpx2.ReadError,
    httpx2.WriteError,
    httpx2.RemoteProtocolError,
)
# Methods whose repetition may do the work twice, unless the request carries this header.
_UNSAFE_METHODS = frozenset({"POST", "PATCH"})
IDEMPOTENCY_HEADER = "idempotency-key"
# Set on the answer handed to the SDK when the transport stopped retrying early.
GAVE_UP = "agent_server.gave_up"
# Set on a request's extensions by a caller whose POST only reads (a search, a lookup):
# repeating it after a 5xx creates nothing.
READ_ONLY = "agent_server.read_only"

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "llm_deadline", default=None
)


@contextlib.contextmanager
def time_budget(deadline: float | None) -> Iterator[None]:
    """Requests made inside must end by ``deadline`` (``time.monotonic()``; None: no limit)."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining_budget() -> float | None:
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


@dataclass(frozen=True)
class HttpPolicy:
    connect_timeout: float = 10.0
    read_timeout: float = 120.0  # longest wait for one whole answer, once connected
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    egress: Egress = DIRECT
    # Repeat POSTs as freely as GETs: for calls whose repetition costs but changes nothing
    # (an LLM completion).
    repeat_posts: bool = False
    # Seams for tests: they record the waits instead of timing them.
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False)
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    def backoff(self, retry: int) -> float:
        """Wait before retry number ``retry`` (0-based): exponential, capped, half jittered."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2**retry)
        return ceiling / 2 + self.jitter() * ceiling / 2

    @property
    def timeout(self) -> httpx2.Timeout:
        return httpx2.Timeout(self.read_timeout, connect=self.connect_timeout)


def retry_after(headers: httpx2.Headers) -> float | None:
    """Seconds the server asks us to wait: ``retry-after-ms``, or ``retry-after`` in
    seconds or as an HTTP date. None when absent or unreadable."""
    if ms := headers.get("retry-after-ms"):
        with contextlib.suppress(ValueError):
            return max(0.0, float(ms) / 1000)
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class RetryingTransport(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport, policy: HttpPolicy) -> None:
        self._inner = inner
        self._policy = policy

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        where = f"{request.url.host}{request.url.path}"
        repeatable = self._repeatable(request)
        retry = 0
        while True:
            try:
                response = await self._attempt(request)
            except _RETRY_ERRORS as exc:
                delay = self._policy.backoff(retry)
                unsent = isinstance(exc, httpx2.ConnectError)
                if not (repeatable or unsent) or self._refuse(retry, delay) is not None:
                    raise
                logger.warning(
                    "%s: %s; retry %d of %d in %.2f s",
                    where,
                    type(exc).__name__,
                    retry + 1,
                    self._policy.max_retries,
                    delay,
                )
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                if not repeatable and response.status_code != 429:
                    # It may have been done: repeating could do it twice.
                    response.extensions[GAVE_UP] = f"a {request.method} is not repeated"
                    return response
                asked = retry_after(response.headers)
                delay = self._policy.backoff(retry) if asked is None else asked
                if (reason := self._refuse(retry, delay)) is not None:
                    response.extensions[GAVE_UP] = reason
                    return response
                await response.aclose()
                logger.warning(
                    "%s: HTTP %d; retry %d of %d in %.2f s",
                    where,
                    response.status_code,
                    retry + 1,
                    self._policy.max_retries,
                    delay,
                )
            await self._policy.sleep(delay)
            retry += 1

    def _repeatable(self, request: httpx2.Request) -> bool:
        return (
            self._policy.repeat_posts
            or request.method not in _UNSAFE_METHODS
            or IDEMPOTENCY_HEADER in request.headers
            or bool(request.extensions.get(READ_ONLY))
        )

    def _refuse(self, retry: int, delay: float) -> str | None:
        """Why no retry after ``delay`` seconds is possible, or None when it is."""
        if retry >= self._policy.max_retries:
            return f"gave up after {retry + 1} attempts"
        if delay > MAX_RETRY_AFTER_SECONDS:
            return f"the server asks to wait {delay:.0f} s"
        budget = remaining_budget()
        if budget is not None and delay >= budget:
            return f"waiting {delay:.1f} s would pass the node's time limit"
        return None

    async def _attempt(self, request: httpx2.Request) -> httpx2.Response:
        """One request, its whole answer read, within the read timeout and the budget."""
        limit = self._policy.connect_timeout + self._policy.read_timeout
        budget = remaining_budget()
        if budget is not None:
            if budget <= 0:
                raise httpx2.ReadTimeout("the node's time limit is used up", request=request)
            limit = min(limit, budget)
        response: httpx2.Response | None = None
        try:
            async with asyncio.timeout(limit):
                response = await self._inner.handle_async_request(request)
                await response.aread()
        except TimeoutError:
            raise httpx2.ReadTimeout(f"no answer within {limit:.3g} s", request=request) from None
        except BaseException:
            if response is not None:  # cancelled or failed mid-answer: drop the connection
                await response.aclose()
            raise
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def proxied_client(policy: HttpPolicy, proxy_url: str) -> httpx2.AsyncClient:
    """A client of its own sending every request through the proxy at ``proxy_url``
    (credentials in the URL), retrying as the pool's clients do. The caller closes it.
    This proxy replaces the operator's egress proxy (one proxy cannot be chained behind
    another here); the extra CAs still apply."""
    inner = httpx2.AsyncHTTPTransport(
        retries=0, verify=policy.egress.verify(), proxy=httpx2.Proxy(proxy_url)
    )
    transport = RetryingTransport(inner, policy)
    return httpx2.AsyncClient(transport=transport, timeout=policy.timeout)


class ClientPool:
    """One pooled ``httpx2.AsyncClient`` per event loop (connections belong to a loop)."""

    def __init__(self, policy: HttpPolicy) -> None:
        self.policy = policy
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx2.AsyncClient]
        self._clients = weakref.WeakKeyDictionary()

    def client(self) -> httpx2.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            transport = RetryingTransport(self.policy.egress.async_transport(), self.policy)
            # An explicit transport also keeps proxy variables of the environment out: the
            # egress proxy is the operator's setting, not whatever the environment holds.
            client = httpx2.AsyncClient(transport=transport, timeout=self.policy.timeout)
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        """Close the running loop's client (at shutdown; the next call opens a new one)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
