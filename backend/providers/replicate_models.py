"""Running a model on Replicate through its official client library (``replicate``).

The library sends through ``httpx``; our retrying client is ``httpx2``. ``_Bridge`` is
the httpx transport we give the library: it passes each request to the shared pool
(retries, Retry-After, the node's time budget) and hands the answer back. A failure
the pool gave up on is raised as ``ProviderError`` right there, so the library's own
retry layer above it cannot start another round of waits past the deadline.

A prediction is created without ``Prefer: wait`` and polled asynchronously; when the
node is cancelled or its time runs out, the prediction is cancelled too (best effort,
within a few seconds), so nobody pays for an image no one waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import httpx
import httpx2

from backend.errors import ProviderError

from .failures import redact
from .http import GAVE_UP, ClientPool, time_budget
from .services import ServiceClients, poll_pause

PROVIDER = "replicate"
CANCEL_TIMEOUT_SECONDS = 5.0
_DONE = frozenset({"succeeded", "failed", "canceled"})
_STATUS_NAMES = {
    401: "unauthorized: check the API key",
    402: "payment required: the account is out of credit",
    403: "forbidden",
    404: "not found: check the model name and base URL",
    422: "the model refused its input",
    429: "rate limited",
}
# Headers that describe the bytes on the wire; the bridge hands over decoded bytes.
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class _Bridge(httpx.AsyncBaseTransport):
    def __init__(self, pool: ClientPool, secret: str) -> None:
        self._pool = pool
        self._secret = secret

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        outgoing = httpx2.Request(
            request.method, str(request.url), headers=request.headers.multi_items(), content=body
        )
        try:
            answer = await self._pool.client().send(outgoing)
        except httpx2.TimeoutException:
            raise ProviderError(f"{PROVIDER} did not answer in time") from None
        except httpx2.HTTPError as exc:
            message = f"cannot reach {PROVIDER}: {type(exc).__name__}: {exc}"
            raise ProviderError(redact(message, self._secret)) from None
        if (gave_up := answer.extensions.get(GAVE_UP)) is not None:
            raise ProviderError(
                f"{PROVIDER} answered HTTP {answer.status_code} "
                f"({_status_name(answer.status_code)}; {gave_up})"
            )
        headers = [
            (k, v) for k, v in answer.headers.multi_items() if k.lower() not in _WIRE_HEADERS
        ]
        return httpx.Response(
            answer.status_code, headers=headers, content=answer.content, request=request
        )


def _status_name(status: int) -> str:
    return _STATUS_NAMES.get(status) or ("server error" if status >= 500 else "error")


async def run_model(
    clients: ServiceClients, key: str, model: str, inputs: dict[str, Any], deadline: float | None
) -> Any:
    """The output of ``model`` ("owner/name") run on ``inputs``; ProviderError otherwise."""
    import replicate
    from replicate.exceptions import ReplicateError

    client = replicate.Client(
        api_token=key,
        base_url=clients.settings.replicate_base_url,
        transport=_Bridge(clients.pool, key),
    )
    with time_budget(deadline):
        try:
            prediction = await client.models.predictions.async_create(model=model, input=inputs)
            try:
                while prediction.status not in _DONE:
                    await poll_pause(
                        PROVIDER, clients.settings.replicate_poll_seconds, f"prediction {model}"
                    )
                    await prediction.async_reload()
            except BaseException:
                await _cancel(prediction)
                raise
        except ReplicateError as exc:
            raise ProviderError(redact(_describe(exc), key)) from None
        except (ValueError, KeyError, TypeError) as exc:  # an answer of another shape
            raise ProviderError(f"{PROVIDER} sent a malformed answer: {exc}") from None
    if prediction.status == "failed":
        raise ProviderError(f"{model} failed on {PROVIDER}: {prediction.error or 'no reason'}")
    if prediction.status == "canceled":
        raise ProviderError(f"the {PROVIDER} prediction of {model} was canceled")
    return prediction.output


async def _cancel(prediction: Any) -> None:
    """Cancel a prediction we stop waiting for; never raises, never takes long."""

    async def cancel() -> None:
        # A budget of its own: the node's is used up when its time limit ended the wait.
        with time_budget(time.monotonic() + CANCEL_TIMEOUT_SECONDS):
            await prediction.async_cancel()

    with contextlib.suppress(Exception):
        # Shielded: the node's own cancellation must not cancel the cancel request.
        await asyncio.wait_for(asyncio.shield(cancel()), CANCEL_TIMEOUT_SECONDS)


def _describe(exc: Any) -> str:
    status = exc.status or 0
    detail = exc.detail or exc.title or ""
    return f"{PROVIDER} answered HTTP {status} ({_status_name(status)})" + (
        f": {detail}" if detail else ""
    )


def first_url(output: Any) -> str:
    """The URL a model answered with: the output itself or its first element."""
    if isinstance(output, list) and output:
        output = output[0]
    if isinstance(output, str) and output:
        return output
    raise ProviderError(f"{PROVIDER} returned no image URL (output: {str(output)[:100]!r})")
