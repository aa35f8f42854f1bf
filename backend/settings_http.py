"""The outgoing-HTTP settings (an egress proxy, extra trusted CAs), checked at start.

They are fields of ``backend.settings.Settings`` like every other setting; they live here
so the proxy URL and the CA bundle get their own checks without growing that module.
What the code does with them is ``backend.providers.egress``.
"""

from __future__ import annotations

import re
import ssl
import urllib.parse
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

# A no-proxy entry: a host name, a domain (".corp.example" or "corp.example" covers its
# subdomains too), an IP address, or "*" (nothing goes through the proxy).
_NO_PROXY_ENTRY = re.compile(r"\*|\.?[A-Za-z0-9_.-]+|\[?[0-9A-Fa-f:.]+\]?")
_PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"


def split_no_proxy(text: str) -> tuple[str, ...]:
    entries = (entry.strip().lower().strip("[]") for entry in text.split(","))
    return tuple(entry for entry in entries if entry)


def check_proxy_url(text: str) -> None:
    """ValueError unless ``text`` is http://[user:password@]host[:port][/]."""
    parts = urllib.parse.urlsplit(text)
    if parts.scheme != "http":
        raise ValueError("must be an http:// URL (http://[user:password@]host:port)")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError("has no host")
    if port == 0 or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("must be only http://[user:password@]host:port")


def check_ca_bundle(text: str) -> None:
    """ValueError unless ``text`` names a readable file of PEM certificates."""
    path = Path(text)
    if not path.is_file():
        raise ValueError("no such file")
    try:
        content = path.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise ValueError(f"cannot be read: {exc.strerror}") from None
    if _PEM_CERTIFICATE not in content:
        raise ValueError(f"is not a PEM certificate bundle (no {_PEM_CERTIFICATE} line)")
    try:
        ssl.create_default_context().load_verify_locations(cafile=str(path))
    except ssl.SSLError as exc:
        raise ValueError(f"holds a certificate that does not load: {exc.reason}") from None


class OutgoingHttpSettings(BaseSettings):
    http_proxy: str = Field(
        "",
        description="http://[user:password@]host:port every outgoing block and provider "
        "request goes through (http and https); empty: direct.",
    )
    http_no_proxy: str = Field(
        "localhost,127.0.0.1,::1",
        description="Comma-separated hosts and domains reached directly despite HTTP_PROXY.",
    )
    ca_bundle: str = Field(
        "", description="PEM file of CA certificates trusted in addition to the system's."
    )

    @field_validator("http_proxy")
    @classmethod
    def _proxy_parses(cls, text: str) -> str:
        if text:
            check_proxy_url(text)
        return text

    @field_validator("http_no_proxy")
    @classmethod
    def _no_proxy_parses(cls, text: str) -> str:
        for entry in split_no_proxy(text):
            if not _NO_PROXY_ENTRY.fullmatch(entry):
                raise ValueError(f"{entry!r} is not a host, a domain or an IP address")
        return text

    @field_validator("ca_bundle")
    @classmethod
    def _bundle_loads(cls, text: str) -> str:
        if text:
            check_ca_bundle(text)
        return text
