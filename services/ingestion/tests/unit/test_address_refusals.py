"""Refused addresses: metadata stays closed whatever the allowlist says, and no internal IP reaches an admin."""

from __future__ import annotations

import pytest
from ingestion_service.adapters.safe_http import BlockedAddressError, GuardedNetworkBackend
from ingestion_service.domain.network_policy import AddressPolicy, parse_networks


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "::ffff:169.254.169.254",
        "169.254.170.2",
        "169.254.169.123",  # the rest of the metadata ranges (AWS's time service)
        "fd00:ec2::254",
        "fd00:ec2::1",
        "100.100.100.200",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:a9fe:a9fe::1",  # 6to4 of it
    ],
)
@pytest.mark.parametrize("allowed", ["169.254.0.0/16", "0.0.0.0/0, ::/0", "100.64.0.0/10, fd00::/8"])
def test_an_allowlist_never_reopens_cloud_metadata(address: str, allowed: str) -> None:
    assert AddressPolicy(parse_networks(allowed)).refusal(address) == "a cloud metadata address"


@pytest.mark.parametrize("address", ["64:ff9b::a00:1", "2002:a00:1::1", "::ffff:10.0.0.1"])
def test_an_ipv6_address_carrying_a_private_ipv4_one_is_refused_as_it(address: str) -> None:
    assert AddressPolicy().refusal(address) == "a private address"


def test_the_allowlist_still_opens_the_rest_of_its_network() -> None:
    assert AddressPolicy(parse_networks("169.254.0.0/16")).refusal("169.254.1.1") is None


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.1.2.3", "a private address"),
        ("127.0.0.1", "a loopback address"),
        ("169.254.1.1", "a link-local address"),
        ("fec0::1", "a site-local address"),  # Python calls fec0::/10 global: it has a flag of its own
        ("feff:ffff::1", "a site-local address"),
    ],
)
def test_a_refusal_names_the_kind_of_address_not_the_address(address: str, kind: str) -> None:
    assert AddressPolicy().refusal(address) == kind


async def test_a_host_resolving_to_an_internal_address_is_refused_without_showing_it() -> None:
    backend = GuardedNetworkBackend(AddressPolicy())
    with pytest.raises(BlockedAddressError) as blocked:
        await backend.resolve("localhost", 80)
    assert blocked.value.reason == "refused to connect to localhost: it resolves to a loopback address"
    assert "127.0.0.1" not in blocked.value.reason


def test_a_public_ipv6_address_is_still_allowed() -> None:
    assert AddressPolicy().refusal("2606:4700::1111") is None


def test_the_allowlist_can_open_a_site_local_network() -> None:
    assert AddressPolicy(parse_networks("fec0::/10")).refusal("fec0::1") is None
