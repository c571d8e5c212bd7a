"""The origin allowlist: parsing WEBCHAT_ALLOWED_ORIGINS and matching a page's origin."""

from __future__ import annotations

import pytest
from webchat_service.domain.origins import OriginAllowlist, is_own_origin, normalize_origin
from webchat_service.settings import WebchatSettings


def test_an_origin_is_allowed_for_its_channel_or_for_every_channel() -> None:
    allowlist = OriginAllowlist.parse("acme/web=https://acme.example, https://www.acme.example;*=http://127.0.0.1:8005")
    assert allowlist.allows("https://acme.example", account_id="acme", channel_id="web")
    assert allowlist.allows("HTTPS://WWW.ACME.EXAMPLE:443", account_id="acme", channel_id="web")
    assert allowlist.allows("http://127.0.0.1:8005", account_id="other", channel_id="any")
    assert not allowlist.allows("https://acme.example", account_id="acme", channel_id="shop")
    assert not allowlist.allows("https://acme.example.evil.test", account_id="acme", channel_id="web")
    assert not allowlist.allows("null", account_id="acme", channel_id="web")
    assert not allowlist.allows("", account_id="acme", channel_id="web")


def test_a_channel_id_may_hold_slashes_equals_signs_and_commas() -> None:
    allowlist = OriginAllowlist.parse("acme/site/main=https://a.example;acme/q=1,2=https://b.example,https://c.example")
    assert allowlist.allows("https://a.example", account_id="acme", channel_id="site/main")
    assert not allowlist.allows("https://a.example", account_id="acme", channel_id="site")
    assert not allowlist.allows("https://a.example", account_id="acme", channel_id="main")
    assert not allowlist.allows("https://a.example", account_id="acme/site", channel_id="main")
    assert allowlist.allows("https://c.example", account_id="acme", channel_id="q=1,2")


def test_an_empty_allowlist_allows_nothing() -> None:
    assert not OriginAllowlist.parse("").allows("https://acme.example", account_id="acme", channel_id="web")


@pytest.mark.parametrize(
    "text",
    [
        "acme=https://a.example",
        "/web=https://a.example",
        "acme/=https://a.example",
        "acme/web",
        "acme/web=",
        "acme/web=ftp://a.example",
        "acme/web=https://a.example/path",
    ],
)
def test_a_malformed_allowlist_is_refused_at_start_up(text: str) -> None:
    with pytest.raises(ValueError, match="origin"):
        WebchatSettings(allowed_origins=text)


def test_default_ports_are_dropped() -> None:
    assert normalize_origin("http://Example.COM:80") == "http://example.com"
    assert normalize_origin("https://example.com:8443/") == "https://example.com:8443"


def test_own_origin_is_the_requests_host() -> None:
    assert is_own_origin("http://127.0.0.1:8005", "127.0.0.1:8005")
    assert not is_own_origin("http://127.0.0.1:8006", "127.0.0.1:8005")
    assert not is_own_origin("http://evil.example", "127.0.0.1:8005")
    assert not is_own_origin("", "127.0.0.1:8005")
