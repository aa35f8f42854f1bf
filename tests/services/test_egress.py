"""The operator's egress proxy and extra CAs, over real sockets: a TLS-intercepting proxy
on 127.0.0.1 answers every proxied request from a local WordPress.com fake.

The web block (urllib, the URLs graph authors choose), the pooled httpx clients of the
providers and the OAuth2 token calls all go through it; the network policy still refuses
private targets it can see; a certificate the node cannot trust fails with a clear error.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from backend.blocks.base import BlockContext
from backend.blocks.web import SendWebRequestBlock
from backend.providers.egress import Egress
from backend.providers.http import ClientPool, HttpPolicy
from backend.providers.oauth import OAuthClient
from tests.intercepting_proxy import InterceptingProxy, MintedCA
from tests.wordpress_server import CLIENT_ID, CLIENT_SECRET, WordPressServer

WEB = SendWebRequestBlock()
POSTS = "https://public-api.wordpress.com/rest/v1.1/sites/myblog.wordpress.com/posts/"


@pytest.fixture
def wordpress() -> Iterator[WordPressServer]:
    with WordPressServer() as server:
        yield server


@pytest.fixture
def ca(tmp_path: Path) -> MintedCA:
    return MintedCA(tmp_path)


@pytest.fixture
def proxy(ca: MintedCA, wordpress: WordPressServer) -> Iterator[InterceptingProxy]:
    with InterceptingProxy(ca, wordpress.url) as running:
        yield running


def egress(proxy: InterceptingProxy, ca: MintedCA | None, **fields: Any) -> Egress:
    return Egress(
        fields.pop("proxy_url", proxy.url),
        fields.pop("no_proxy", ("localhost", "127.0.0.1", "::1")),
        str(ca.pem) if ca else "",
    )


def fetch(url: str, via: Egress, *, allow_private: bool = False) -> list[tuple[str, Any]]:
    ctx = BlockContext(allow_private_network=allow_private, egress=via)

    async def collect() -> list[tuple[str, Any]]:
        return [out async for out in WEB.execute({"url": url, "method": "GET"}, ctx)]

    return asyncio.run(collect())


def titles(outputs: list[tuple[str, Any]]) -> list[str]:
    [(pin, body)] = outputs
    assert pin == "response", outputs
    return [post["title"] for post in body["posts"]]


def test_https_goes_through_the_proxy_and_trusts_its_ca(
    proxy: InterceptingProxy, ca: MintedCA
) -> None:
    outputs = fetch(POSTS, egress(proxy, ca))

    assert titles(outputs) == ["Dialling in a new bag of beans", "Milk steaming for beginners"]
    assert proxy.connects == ["public-api.wordpress.com:443"]
    [seen] = proxy.requests
    assert (seen.method, seen.url, seen.tunnelled) == ("GET", POSTS, True)


def test_plain_http_goes_through_the_proxy_as_an_absolute_uri(
    proxy: InterceptingProxy, ca: MintedCA
) -> None:
    url = POSTS.replace("https://", "http://")
    outputs = fetch(url, egress(proxy, ca))

    assert len(titles(outputs)) == 2
    assert proxy.connects == []
    [seen] = proxy.requests
    assert (seen.url, seen.tunnelled) == (url, False)


def test_without_the_ca_bundle_the_certificate_error_is_clear(proxy: InterceptingProxy) -> None:
    [(pin, message)] = fetch(POSTS, egress(proxy, None))

    assert pin == "error"
    assert message.startswith("request to public-api.wordpress.com failed: certificate not")
    assert "BACKEND_CA_BUNDLE" in message
    assert proxy.requests == []  # nothing reached the fake behind the proxy


def test_proxy_credentials_are_sent_to_the_proxy_only(
    ca: MintedCA, wordpress: WordPressServer
) -> None:
    with InterceptingProxy(ca, wordpress.url, credentials="corp:s3cret") as proxy:
        via = egress(proxy, ca, proxy_url=proxy.url_with_login())
        https = fetch(POSTS, via)
        plain = fetch(POSTS.replace("https://", "http://"), via)
        refused = fetch(POSTS, egress(proxy, ca))  # no login: 407 on CONNECT

    assert len(titles(https)) == len(titles(plain)) == 2
    assert [r.headers.get("proxy-authorization") for r in wordpress.requests] == [None, None]
    [(pin, message)] = refused
    assert pin == "error" and "407" in message
    assert "s3cret" not in repr(via)


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("https://127.0.0.2/latest", "127.0.0.2 is a loopback address"),
        ("http://10.1.2.3/", "10.1.2.3 is a private address"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local"),
        ("http://[::ffff:192.168.0.1]/", "::ffff:c0a8:1 is a private address"),
        # resolves here (/etc/hosts) to a loopback address: an internal name
        ("http://localhost:9/", "127.0.0.1 is a loopback address"),
    ],
)
def test_private_targets_are_refused_before_reaching_the_proxy(
    proxy: InterceptingProxy, ca: MintedCA, url: str, refused: str
) -> None:
    [(pin, message)] = fetch(url, egress(proxy, ca, no_proxy=()))

    assert pin == "error"
    assert refused in message and "private network access is disabled" in message
    assert proxy.connects == [] and proxy.requests == []


def test_a_name_only_the_proxy_can_resolve_is_handed_to_it(
    proxy: InterceptingProxy, ca: MintedCA
) -> None:
    host = "intranet-only.invalid"
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo(host, 443)
    outputs = fetch(f"https://{host}/rest/v1.1/sites/x/posts/", egress(proxy, ca))

    assert len(titles(outputs)) == 2
    assert proxy.connects == [f"{host}:443"]


def test_no_proxy_hosts_are_direct_and_still_guarded(
    proxy: InterceptingProxy, ca: MintedCA, wordpress: WordPressServer
) -> None:
    listed = f"{wordpress.url}/rest/v1.1/sites/x/posts/"
    [(pin, message)] = fetch(listed, egress(proxy, ca))
    assert pin == "error" and "127.0.0.1 is a loopback address" in message

    assert len(titles(fetch(listed, egress(proxy, ca), allow_private=True))) == 2
    assert proxy.connects == [] and proxy.requests == []  # both went direct


def test_provider_clients_go_through_the_proxy(proxy: InterceptingProxy, ca: MintedCA) -> None:
    pool = ClientPool(HttpPolicy(egress=egress(proxy, ca)))

    async def call() -> Any:
        try:
            answer = await pool.client().get(POSTS)
            return answer.status_code, answer.json()
        finally:
            await pool.aclose()

    status, body = asyncio.run(call())
    assert status == 200 and body["found"] == 2
    assert proxy.connects == ["public-api.wordpress.com:443"]


def test_provider_clients_without_the_ca_fail_on_the_certificate(
    proxy: InterceptingProxy,
) -> None:
    pool = ClientPool(HttpPolicy(egress=egress(proxy, None), max_retries=0))

    async def call() -> None:
        try:
            await pool.client().get(POSTS)
        finally:
            await pool.aclose()

    with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
        asyncio.run(call())
    assert proxy.requests == []


def test_oauth_token_calls_go_through_the_proxy(
    proxy: InterceptingProxy, ca: MintedCA, wordpress: WordPressServer
) -> None:
    client = OAuthClient(
        "wordpress",
        CLIENT_ID,
        SecretStr(CLIENT_SECRET),
        "https://public-api.wordpress.com/oauth2/authorize",
        "https://public-api.wordpress.com/oauth2/token",
        ("global",),
        pkce=False,
        egress=egress(proxy, ca),
    )
    wordpress.codes["wpcode-x"] = "https://agents.example/ui/oauth/callback"

    tokens = client.exchange("wpcode-x", "", "https://agents.example/ui/oauth/callback")

    assert tokens.access_token.get_secret_value() in wordpress.tokens
    assert [s.url for s in proxy.requests] == ["https://public-api.wordpress.com/oauth2/token"]
