"""The web block's address policy for IPv6 forms that carry an IPv4 address.

Each form is tested with a carried address that must be refused and, where the form
is in public use, with a public one that passes.
"""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import pytest

from backend.blocks.web import SendWebRequestBlock
from backend.providers.network import blocked_reason


def teredo(server: str, client: str) -> str:
    """A Teredo address (2001::/32): server in clear, client inverted (RFC 4380)."""
    value = (0x2001_0000 << 96) | (int(IPv4Address(server)) << 64)
    value |= int(IPv4Address(client)) ^ 0xFFFF_FFFF
    return str(IPv6Address(value))


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        # IPv4-compatible ::a.b.c.d (deprecated; refused whatever it carries)
        ("::127.0.0.1", "loopback"),
        ("::10.1.2.3", "private"),
        ("::169.254.169.254", "link-local"),
        ("::8.8.8.8", "non-public"),
        # IPv4-mapped ::ffff:a.b.c.d
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        # IPv4-translated ::ffff:0:a.b.c.d (SIIT; refused whatever it carries)
        ("::ffff:0:127.0.0.1", "loopback"),
        ("::ffff:0:8.8.8.8", "non-public"),
        # NAT64, well-known prefix 64:ff9b::/96
        ("64:ff9b::127.0.0.1", "loopback"),
        ("64:ff9b::192.168.0.1", "private"),
        ("64:ff9b::169.254.169.254", "link-local"),
        ("64:ff9b::100.64.0.1", "non-public"),
        # NAT64, local-use prefix 64:ff9b:1::/48 (refused whatever it carries)
        ("64:ff9b:1::808:808", "non-public"),
        ("64:ff9b:1:ffff::1", "non-public"),
        # 6to4 2002:aabb:ccdd::/48
        ("2002:7f00:1::1", "loopback"),
        ("2002:a00:1::1", "private"),
        ("2002:a9fe:a9fe::", "link-local"),
        # Teredo: either embedded address decides, then 2001::/32 itself
        (teredo("127.0.0.1", "8.8.8.8"), "loopback"),
        (teredo("8.8.8.8", "10.0.0.7"), "private"),
        (teredo("8.8.8.8", "169.254.169.254"), "link-local"),
        (teredo("8.8.8.8", "1.1.1.1"), "private"),
        # ISATAP interface ids (::0:5efe:a.b.c.d and ::200:5efe:a.b.c.d) under any prefix
        ("2606:4700::5efe:127.0.0.1", "loopback"),
        ("2606:4700::200:5efe:10.0.0.1", "private"),
    ],
)
def test_ipv6_forms_carrying_a_non_public_ipv4_address_are_refused(
    address: str, reason: str
) -> None:
    assert blocked_reason(ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::8.8.8.8",  # NAT64 to a public address: the translator reaches it
        "2002:808:808::1",  # 6to4 of a public address: the relay reaches it
        "2606:4700::200:5efe:8.8.8.8",  # ISATAP id carrying a public address
        "2606:4700:4700::1111",
        "2001:4860:4860::8888",  # 2001:4860::/32 is Google, not Teredo
    ],
)
def test_ipv6_forms_carrying_a_public_ipv4_address_pass(address: str) -> None:
    assert blocked_reason(ip_address(address)) is None


def test_the_teredo_helper_builds_what_ipaddress_reads() -> None:
    parsed = ip_address(teredo("8.8.8.8", "10.0.0.7"))
    assert isinstance(parsed, IPv6Address)
    assert parsed.teredo == (IPv4Address("8.8.8.8"), IPv4Address("10.0.0.7"))


@pytest.mark.parametrize(("address", "reason"), [("::1", "loopback"), ("::", "private")])
def test_the_unspecified_and_loopback_ipv6_addresses_keep_their_reasons(
    address: str, reason: str
) -> None:
    assert blocked_reason(ip_address(address)) == reason


@pytest.mark.parametrize(
    "url",
    ["http://[::127.0.0.1]:9/", "http://[64:ff9b::7f00:1]:9/", "http://[2002:7f00:1::1]:9/"],
)
def test_the_web_block_refuses_them_before_connecting(url: str) -> None:
    async def collect() -> list[tuple[str, Any]]:
        block = SendWebRequestBlock()
        return [output async for output in block.execute({"url": url, "method": "GET"})]

    [(pin, message)] = asyncio.run(collect())
    assert pin == "error"
    assert "private network access is disabled" in message
