"""The egress settings: good values become the ``Egress`` every client uses; a bad proxy
URL or CA bundle stops the start with one line naming the setting (and no password)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.errors import ConfigError
from backend.providers.egress import Egress
from backend.settings import load_settings
from tests.intercepting_proxy import MintedCA


def config_error(clean_env: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        clean_env.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = caught.value.message
    assert "\n" not in message
    return message


def test_good_values_make_the_egress(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ca = MintedCA(tmp_path)
    clean_env.setenv("BACKEND_HTTP_PROXY", "http://corp:pw@proxy.corp.example:3128")
    clean_env.setenv("BACKEND_HTTP_NO_PROXY", " .corp.example, 10.0.0.5 ,[::1]")
    clean_env.setenv("BACKEND_CA_BUNDLE", str(ca.pem))

    egress = Egress.from_settings(load_settings())

    assert egress.proxy_address == "proxy.corp.example:3128"
    assert egress.proxy_authorization == "Basic Y29ycDpwdw=="
    assert egress.no_proxy == (".corp.example", "10.0.0.5", "::1")
    assert not egress.proxied("wiki.corp.example") and not egress.proxied("corp.example")
    assert not egress.proxied("10.0.0.5") and not egress.proxied("[::1]")
    assert egress.proxied("public-api.wordpress.com") and egress.proxied("notcorp.example")
    assert "pw" not in repr(egress)


def test_without_a_proxy_everything_is_direct(clean_env: pytest.MonkeyPatch) -> None:
    egress = Egress.from_settings(load_settings())
    assert not egress.proxied("public-api.wordpress.com")
    assert egress.verify() is True  # httpx's own default trust store


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("proxy.corp.example:3128", "must be an http:// URL"),
        ("https://proxy.corp.example:3128", "must be an http:// URL"),
        ("socks5://proxy.corp.example:1080", "must be an http:// URL"),
        ("http://:3128", "has no host"),
        ("http://proxy.corp.example:99999", "port that is not a number"),
        ("http://proxy.corp.example:3128/path", "must be only"),
    ],
)
def test_a_bad_proxy_url_names_the_setting(
    clean_env: pytest.MonkeyPatch, value: str, reason: str
) -> None:
    message = config_error(clean_env, BACKEND_HTTP_PROXY=value)
    assert message.startswith("invalid setting BACKEND_HTTP_PROXY=")
    assert reason in message


def test_the_proxy_password_is_masked_in_the_error(clean_env: pytest.MonkeyPatch) -> None:
    message = config_error(clean_env, BACKEND_HTTP_PROXY="http://corp:s3cret@proxy:3128/x")
    assert "s3cret" not in message and "http://***@proxy:3128/x" in message


def test_a_bad_no_proxy_entry_names_the_setting(clean_env: pytest.MonkeyPatch) -> None:
    message = config_error(clean_env, BACKEND_HTTP_NO_PROXY="localhost,http://x/")
    assert "BACKEND_HTTP_NO_PROXY" in message and "'http://x/'" in message


def test_a_missing_ca_bundle_names_the_setting(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.pem"
    message = config_error(clean_env, BACKEND_CA_BUNDLE=str(missing))
    assert message == f"invalid setting BACKEND_CA_BUNDLE='{missing}': no such file"


def test_a_ca_bundle_that_is_not_pem_names_the_setting(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    der = tmp_path / "ca.der"
    der.write_bytes(b"\x30\x82\x01\x0a not a PEM file")
    message = config_error(clean_env, BACKEND_CA_BUNDLE=str(der))
    assert "BACKEND_CA_BUNDLE" in message and "is not a PEM certificate bundle" in message


def test_a_ca_bundle_with_a_broken_certificate_names_the_setting(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
    message = config_error(clean_env, BACKEND_CA_BUNDLE=str(broken))
    assert "BACKEND_CA_BUNDLE" in message and "does not load" in message
