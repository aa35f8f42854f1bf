"""The network policy for URLs graph authors choose, and an opener that enforces it.

By default a request may only reach public addresses (no loopback, private, link-local
or otherwise non-global targets). The check runs when each connection is opened, on the
very addresses the socket then connects to, so redirects and DNS answers that change
between lookups cannot slip past it. Every block that fetches a user-given URL goes
through ``guarded_opener``; URLs from the operator's settings (provider base URLs) do not
need it.

Behind the operator's egress proxy the proxy, not this host, resolves the target and
opens the connection, so the guard checks what it can before handing the request over
(``check_proxied_target``): a literal address must be public, and a name that resolves
here must resolve only to public addresses (an internal name of the operator's network
is refused). A name this host cannot resolve is passed on: the proxy resolves it, and
refusing internal destinations there is the proxy's own policy. The connection to the
proxy itself is allowed whatever its address, since the operator chose it. Hosts on the
no-proxy list are connected to directly, under the usual check.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import socket
import urllib.parse
import urllib.request
from typing import Any

from .egress import DIRECT, Egress


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


def _refuse(host: str, ip: IPAddress, reason: str) -> NetworkPolicyError:
    return NetworkPolicyError(
        f"refusing to connect to {host}: {ip} is a {reason} address "
        "(private network access is disabled)"
    )


def check_proxied_target(host: str, port: int) -> None:
    """NetworkPolicyError when ``host`` (to be reached through the egress proxy) is a
    non-public address or resolves here to one; see the module docstring."""
    try:
        literal = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        literal = None
    if literal is not None:
        if reason := blocked_reason(literal):
            raise _refuse(host, literal, reason)
        return
    try:
        candidates = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return  # not known here: the proxy resolves it
    for *_, sockaddr in candidates:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if reason := blocked_reason(ip):
            raise _refuse(host, ip, reason)


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
                raise _refuse(host, ip, reason)
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


def _via_proxy(req: urllib.request.Request, egress: Egress, allow_private: bool) -> bool:
    """Route ``req`` through the egress proxy when the policy says so (after checking its
    target); False when it goes direct."""
    parts = urllib.parse.urlsplit(req.full_url)
    host = parts.hostname or ""
    if not egress.proxied(host):
        return False
    if not allow_private:
        check_proxied_target(host, parts.port or (443 if parts.scheme == "https" else 80))
    if (authorization := egress.proxy_authorization) is not None:
        # Sent to the proxy only: in the CONNECT for https, on the request for http.
        req.add_unredirected_header("Proxy-Authorization", authorization)
    req.set_proxy(egress.proxy_address, "http")
    return True


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, allow_private: bool, egress: Egress) -> None:
        super().__init__()
        self.allow_private = allow_private
        self.egress = egress

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        if _via_proxy(req, self.egress, self.allow_private):
            return self.do_open(http.client.HTTPConnection, req)
        return self.do_open(
            _GuardedHTTPConnection,  # type: ignore[arg-type]  # takes one more keyword
            req,
            allow_private=self.allow_private,
        )


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, allow_private: bool, egress: Egress) -> None:
        super().__init__(context=egress.ssl_context())
        self.allow_private = allow_private
        self.egress = egress

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        context = self._context  # type: ignore[attr-defined]
        if _via_proxy(req, self.egress, self.allow_private):
            # http.client tunnels through the proxy with CONNECT, then speaks TLS to the
            # target inside the tunnel, checking the target's certificate.
            return self.do_open(http.client.HTTPSConnection, req, context=context)
        return self.do_open(
            _GuardedHTTPSConnection,  # type: ignore[arg-type]  # takes one more keyword
            req,
            context=context,
            allow_private=self.allow_private,
        )


def guarded_opener(allow_private: bool, egress: Egress = DIRECT) -> urllib.request.OpenerDirector:
    # Built by hand rather than with build_opener: no proxies from the environment
    # (the guard must see the real target; the operator's proxy is ``egress``) and no
    # ftp/file handlers a redirect could use.
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler({}),
        urllib.request.UnknownHandler(),
        _GuardedHTTPHandler(allow_private, egress),
        _GuardedHTTPSHandler(allow_private, egress),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener
