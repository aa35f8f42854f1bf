"""The network policy for URLs graph authors choose, and an opener that enforces it.

By default a request may only reach public addresses (no loopback, private, link-local
or otherwise non-global targets). The check runs when each connection is opened, on the
very addresses the socket then connects to, so redirects and DNS answers that change
between lookups cannot slip past it. Every block that fetches a user-given URL goes
through ``guarded_opener``; URLs from the operator's settings (provider base URLs) do not
need it.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import socket
import ssl
import urllib.request
from typing import Any


class NetworkPolicyError(Exception):
    """The target address is not allowed by the operator's network policy."""


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is off limits without private network access, or None if public.

    An IPv6 address that carries an IPv4 address is judged by that address too, since
    a tunnel or translator delivers it there: IPv4-mapped, NAT64 (64:ff9b::/96), 6to4
    (2002::/16), Teredo (server and client), ISATAP. Forms nothing public uses are
    refused whatever they carry: IPv4-compatible (::a.b.c.d), IPv4-translated
    (::ffff:0:a.b.c.d), local-use NAT64 (64:ff9b:1::/48), and Teredo (2001::/32 lies
    in the IETF block that ``ipaddress`` counts as private).
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return blocked_reason(ip.ipv4_mapped)
        value = int(ip)
        last32 = ipaddress.IPv4Address(value & 0xFFFF_FFFF)
        # ::/96 holds :: and ::1 themselves; they are judged as they are, below.
        compatible = value >> 32 == 0 and value > 1
        translated = value >> 32 == 0xFFFF_0000
        nat64 = value >> 32 == 0x64_FF9B << 64
        isatap = (value >> 32) & 0xFDFF_FFFF == 0x5EFE  # interface id 0[2]00:5efe
        carried = [ip.sixtofour, *(ip.teredo or ())]
        if compatible or translated or nat64 or isatap:
            carried.append(last32)
        for address in carried:
            if address is not None and (reason := blocked_reason(address)):
                return reason
        if compatible or translated or value >> 80 == 0x64_FF9B_0001:
            return "non-public"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_private:
        return "private"
    if not ip.is_global or ip.is_multicast:
        return "non-public"
    return None


def _guarded_connect(
    address: tuple[str, int],
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
    *,
    allow_private: bool,
) -> socket.socket:
    host, port = address
    candidates = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not allow_private:
        for *_, sockaddr in candidates:
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if reason := blocked_reason(ip):
                raise NetworkPolicyError(
                    f"refusing to connect to {host}: {ip} is a {reason} address "
                    "(private network access is disabled)"
                )
    last_error: OSError | None = None
    for family, kind, proto, _, sockaddr in candidates:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last_error = exc
    raise last_error or OSError(f"no address found for {host}")


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, allow_private: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = functools.partial(_guarded_connect, allow_private=allow_private)


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, allow_private: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = functools.partial(_guarded_connect, allow_private=allow_private)


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(
            _GuardedHTTPConnection,  # type: ignore[arg-type]  # takes one more keyword
            req,
            allow_private=self.allow_private,
        )


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, allow_private: bool) -> None:
        super().__init__(context=ssl.create_default_context())
        self.allow_private = allow_private

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(
            _GuardedHTTPSConnection,  # type: ignore[arg-type]  # takes one more keyword
            req,
            context=self._context,  # type: ignore[attr-defined]
            allow_private=self.allow_private,
        )


def guarded_opener(allow_private: bool) -> urllib.request.OpenerDirector:
    # Built by hand rather than with build_opener: no proxies from the environment
    # (the guard must see the real target) and no ftp/file handlers a redirect could use.
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler({}),
        urllib.request.UnknownHandler(),
        _GuardedHTTPHandler(allow_private),
        _GuardedHTTPSHandler(allow_private),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener
