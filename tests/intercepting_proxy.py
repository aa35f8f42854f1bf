"""A TLS-intercepting egress proxy on 127.0.0.1, as corporate networks run them.

It speaks the two forms a client uses with an HTTP proxy: ``CONNECT host:port`` for https
(it accepts the tunnel, then plays the target itself with a certificate for that host
signed by a test CA it mints) and absolute-URI requests (``GET http://host/path``) for
plain http. Either way the request is answered by one local upstream server (a service
fake), so a test can reach "https://public-api.wordpress.com" without the internet. It
records what it was asked, and may require proxy credentials.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import http.client
import ipaddress
import socket
import ssl
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# Hop-by-hop headers a proxy does not pass on.
_HOP = {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "te", "upgrade"}


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class MintedCA:
    """A certificate authority of the test: its PEM file, and leaf certificates by host."""

    def __init__(self, directory: Path, name: str = "Egress Test CA") -> None:
        self.directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        self.pem = directory / "egress-ca.pem"
        self.pem.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def server_context(self, host: str) -> ssl.SSLContext:
        """A server-side TLS context presenting a certificate for ``host``."""
        with self._lock:
            if host not in self._contexts:
                self._contexts[host] = self._issue(host)
            return self._contexts[host]

    def _issue(self, host: str) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        try:
            alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            alt = x509.DNSName(host)
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(host))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        chain = self.directory / f"leaf-{len(self._contexts)}.pem"
        chain.write_bytes(
            cert.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain)
        return context


@dataclass(frozen=True)
class Seen:
    method: str
    url: str  # as the client meant it: https://host/path for a tunnelled request
    tunnelled: bool


class InterceptingProxy:
    def __init__(self, ca: MintedCA, upstream: str, credentials: str = "") -> None:
        self.ca = ca
        self.upstream = urllib.parse.urlsplit(upstream)
        self.credentials = credentials  # "user:password" the client must send, or ""
        self.connects: list[str] = []  # CONNECT targets, host:port
        self.requests: list[Seen] = []
        self.handshake_failures: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url_with_login(self) -> str:
        return f"http://{self.credentials}@127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> InterceptingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def forward(self, handler: BaseHTTPRequestHandler, url: str, tunnelled: bool) -> None:
        """Answer the request ``handler`` holds from the upstream server."""
        self.requests.append(Seen(handler.command, url, tunnelled))
        parts = urllib.parse.urlsplit(url)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP}
        upstream = http.client.HTTPConnection(
            self.upstream.hostname or "127.0.0.1", self.upstream.port, timeout=10
        )
        try:
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            upstream.request(handler.command, path or "/", body=body, headers=headers)
            answer = upstream.getresponse()
            content = answer.read()
            handler.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in _HOP | {"transfer-encoding", "content-length", "date"}:
                    handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(content)))
            handler.end_headers()
            handler.wfile.write(content)
        finally:
            upstream.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _authorized(self) -> bool:
                if not proxy.credentials:
                    return True
                expected = "Basic " + base64.b64encode(proxy.credentials.encode()).decode()
                if self.headers.get("Proxy-Authorization") == expected:
                    return True
                self.send_response(407, "Proxy Authentication Required")
                self.send_header("Proxy-Authenticate", 'Basic realm="egress"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return False

            def do_CONNECT(self) -> None:
                if not self._authorized():
                    return
                proxy.connects.append(self.path)
                host = self.path.rsplit(":", 1)[0].strip("[]")
                self.send_response(200, "Connection Established")
                self.end_headers()
                self.wfile.flush()
                try:
                    tls = proxy.ca.server_context(host).wrap_socket(
                        self.connection, server_side=True
                    )
                except (ssl.SSLError, OSError) as exc:
                    proxy.handshake_failures.append(f"{host}: {exc}")
                    self.close_connection = True
                    return
                tls.settimeout(10)
                try:
                    Tunnelled(tls, self.client_address, proxy._server, host=self.path)
                except (OSError, ssl.SSLError):
                    pass
                finally:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        tls.close()

            def _plain(self) -> None:
                if not self._authorized():
                    return
                if not self.path.startswith("http://"):
                    self.send_error(400, "a proxy takes absolute http:// URLs")
                    return
                proxy.forward(self, self.path, tunnelled=False)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _plain

        class Tunnelled(BaseHTTPRequestHandler):
            """The requests inside one CONNECT tunnel, after TLS was set up."""

            protocol_version = "HTTP/1.1"

            def __init__(self, request: socket.socket, address: Any, server: Any, host: str):
                self.target = host
                super().__init__(request, address, server)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _any(self) -> None:
                host, _, port = self.target.rpartition(":")
                shown = host if port == "443" else self.target
                proxy.forward(self, f"https://{shown}{self.path}", tunnelled=True)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any

        return Handler
