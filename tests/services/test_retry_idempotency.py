"""Which failed calls the shared HTTP client tries again, against real local servers
that count what they were sent: a POST or PATCH that may have been done (5xx, a lost
answer) is not repeated, so Airtable records are never created twice; a 429, a failed
connect, an Idempotency-Key, and GET/PUT/DELETE are retried as before."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from backend.blocks.airtable import AirtableCreateRecordsBlock
from tests.airtable_server import KEY, AirtableServer
from tests.http_server import serving
from tests.service_server import Json
from tests.services.conftest import Waits, context, run_block, service_clients

RECORDS = AirtableCreateRecordsBlock()
CREATE = {"base_id": "appX", "table_id_or_name": "Emails", "records": [{"Subject": "Hi"}]}
RECORDS_PATH = r"/v0/appX/Emails"


@pytest.fixture
def airtable() -> Iterator[AirtableServer]:
    with AirtableServer() as server:
        yield server


def create(url: str, waits: Waits) -> list[tuple[str, Any]]:
    clients = service_clients(waits, airtable_base_url=url)
    return run_block(RECORDS, CREATE, context(clients, "airtable", KEY, None))


def posts(airtable: AirtableServer) -> int:
    return len([r for r in airtable.requests if r.method == "POST"])


def test_a_post_answered_5xx_is_not_repeated(airtable: AirtableServer, waits: Waits) -> None:
    airtable.script(RECORDS_PATH, Json({"error": "backend hiccup"}, 503))

    [(pin, message)] = create(airtable.url, waits)

    assert posts(airtable) == 1 and waits == []
    assert pin == "error"
    assert (
        message
        == "airtable answered HTTP 503 (server error; a POST is not repeated): backend hiccup"
    )


def test_a_post_answered_429_is_repeated(airtable: AirtableServer, waits: Waits) -> None:
    airtable.script(RECORDS_PATH, Json({"error": "slow down"}, 429, {"Retry-After": "0"}))

    outputs = create(airtable.url, waits)

    assert posts(airtable) == 2 and waits == [0.0]
    assert [pin for pin, _ in outputs][:1] == ["records"]


def test_a_get_answered_5xx_is_repeated(airtable: AirtableServer, waits: Waits) -> None:
    from backend.blocks.airtable import AirtableCreateBaseBlock

    airtable.script(r"/v0/meta/bases", Json({"error": "down"}, 502))
    clients = service_clients(waits, airtable_base_url=airtable.url)
    data = {"workspace_id": "wspA", "name": "Support"}
    outputs = run_block(AirtableCreateBaseBlock(), data, context(clients, "airtable", KEY, None))

    listed = [r for r in airtable.requests if r.method == "GET"]
    assert len(listed) == 2 and len(waits) == 1
    assert ("was_created", True) in outputs


class _Hangs(BaseHTTPRequestHandler):
    """Reads each request whole, then drops the connection without an answer."""

    seen: list[str] = []

    def _drop(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.seen.append(self.command)
        self.close_connection = True

    do_GET = do_POST = do_PATCH = do_PUT = _drop

    def log_message(self, format: str, *args: Any) -> None:
        pass


def send(url: str, method: str, waits: Waits, headers: dict[str, str] | None = None) -> str:
    clients = service_clients(waits)

    async def call() -> str:
        try:
            await clients.pool.client().request(method, url, json={}, headers=headers)
        except Exception as exc:
            return type(exc).__name__
        finally:
            await clients.aclose()
        return "answered"

    return asyncio.run(call())


@pytest.mark.parametrize(
    ("method", "headers", "attempts"),
    [
        ("POST", None, 1),
        ("PATCH", None, 1),
        ("POST", {"Idempotency-Key": "k-1"}, 3),
        ("GET", None, 3),
        ("PUT", None, 3),
    ],
)
def test_a_lost_answer_repeats_only_what_is_safe_to_repeat(
    waits: Waits, method: str, headers: dict[str, str] | None, attempts: int
) -> None:
    _Hangs.seen = []
    with serving(_Hangs) as url:
        failed = send(f"{url}/v0/appX/Emails", method, waits, headers)

    assert failed == "RemoteProtocolError"
    assert _Hangs.seen == [method] * attempts


def test_a_post_whose_connection_failed_is_repeated(waits: Waits) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert send(f"http://127.0.0.1:{port}/v0/appX/Emails", "POST", waits) == "ConnectError"
    assert len(waits) == 2  # nothing was sent: both retries were made
