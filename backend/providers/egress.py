"""How outgoing requests leave the host: the operator's egress proxy and trusted CAs.

``Egress`` is built once from the settings (``BACKEND_HTTP_PROXY``,
``BACKEND_HTTP_NO_PROXY``, ``BACKEND_CA_BUNDLE``) and travels with the HTTP policy to
every client the blocks and providers use: the pooled httpx clients of
``backend.providers.http`` (provider APIs and the SDKs built on them), the guarded urllib
opener of ``backend.providers.network`` (URLs graph authors choose) and the OAuth2 token
calls. It is a small frozen value so it also pickles into block worker processes, which
read no settings of their own. The extra CA bundle is added to the system's trust store,
never in place of it.
"""

from __future__ import annotations

import base64
import functools
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx2

from backend.settings_http import split_no_proxy

if TYPE_CHECKING:
    from backend.settings import Settings


@functools.lru_cache(maxsize=8)
def _context(ca_bundle: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


@dataclass(frozen=True)
class Egress:
    proxy_url: str = ""  # http://[user:password@]host:port; empty: every request is direct
    no_proxy: tuple[str, ...] = ()
    ca_bundle: str = ""  # a PEM file trusted in addition to the system's CAs

    @classmethod
    def from_settings(cls, settings: Settings) -> Egress:
        return cls(settings.http_proxy, split_no_proxy(settings.http_no_proxy), settings.ca_bundle)

    def __repr__(self) -> str:  # the proxy's password stays out of logs and reprs
        return f"Egress(proxy={self.proxy_address or 'direct'}, ca_bundle={self.ca_bundle!r})"

    def proxied(self, host: str) -> bool:
        """Whether a request to ``host`` goes through the proxy."""
        if not self.proxy_url:
            return False
        host = host.lower().strip("[]").rstrip(".")
        for entry in self.no_proxy:
            if entry == "*":
                return False
            domain = entry.lstrip(".")
            if host == domain or host.endswith("." + domain):
                return False
        return True

    @property
    def proxy_address(self) -> str:
        """host:port of the proxy ("" without one)."""
        if not self.proxy_url:
            return ""
        parts = urllib.parse.urlsplit(self.proxy_url)
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        return f"{host}:{parts.port or 80}"

    @property
    def proxy_authorization(self) -> str | None:
        """The Proxy-Authorization header value for credentials in the proxy URL."""
        parts = urllib.parse.urlsplit(self.proxy_url)
        if not parts.username:
            return None
        login = f"{urllib.parse.unquote(parts.username)}:"
        login += urllib.parse.unquote(parts.password or "")
        return "Basic " + base64.b64encode(login.encode()).decode()

    def ssl_context(self) -> ssl.SSLContext:
        """The system's trust store plus the operator's CA bundle (shared; not to modify)."""
        return _context(self.ca_bundle)

    def verify(self) -> ssl.SSLContext | bool:
        """What httpx's ``verify`` takes: its own default unless a bundle is added."""
        return self.ssl_context() if self.ca_bundle else True

    def async_transport(self) -> httpx2.AsyncBaseTransport:
        """A transport sending through the proxy except to the no-proxy hosts."""
        direct = httpx2.AsyncHTTPTransport(retries=0, verify=self.verify())
        if not self.proxy_url:
            return direct
        proxy = httpx2.AsyncHTTPTransport(
            retries=0, verify=self.verify(), proxy=httpx2.Proxy(self.proxy_url)
        )
        return _AsyncRoute(self, direct, proxy)

    def client(self, timeout: float) -> httpx2.Client:
        """A blocking client (the OAuth2 token calls), routed as ``async_transport``."""
        direct = httpx2.HTTPTransport(retries=0, verify=self.verify())
        transport: httpx2.BaseTransport = direct
        if self.proxy_url:
            proxy = httpx2.HTTPTransport(
                retries=0, verify=self.verify(), proxy=httpx2.Proxy(self.proxy_url)
            )
            transport = _Route(self, direct, proxy)
        return httpx2.Client(transport=transport, timeout=timeout)


DIRECT = Egress()


class _AsyncRoute(httpx2.AsyncBaseTransport):
    def __init__(
        self, egress: Egress, direct: httpx2.AsyncBaseTransport, proxy: httpx2.AsyncBaseTransport
    ) -> None:
        self._egress, self._direct, self._proxy = egress, direct, proxy

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        via = self._proxy if self._egress.proxied(request.url.host) else self._direct
        return await via.handle_async_request(request)

    async def aclose(self) -> None:
        await self._direct.aclose()
        await self._proxy.aclose()


class _Route(httpx2.BaseTransport):
    def __init__(
        self, egress: Egress, direct: httpx2.BaseTransport, proxy: httpx2.BaseTransport
    ) -> None:
        self._egress, self._direct, self._proxy = egress, direct, proxy

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        via = self._proxy if self._egress.proxied(request.url.host) else self._direct
        return via.handle_request(request)

    def close(self) -> None:
        self._direct.close()
        self._proxy.close()
