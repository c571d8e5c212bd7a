"""Which IP addresses the crawler may connect to (SSRF protection), as a pure rule."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud metadata and credential endpoints: refused whatever the allowlist says (AWS, GCP, Azure and
# others; AWS IPv6; ECS task metadata and EKS pod identity; Alibaba Cloud).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",
        "fd00:ec2::254",
        "169.254.170.2",
        "169.254.170.23",
        "fd00:ec2::23",
        "100.100.100.200",
    )
)


def parse_networks(spec: str | list[str]) -> tuple[IPNetwork, ...]:
    """Parse a comma-separated (or listed) set of CIDRs; raise ValueError on a bad one."""
    items = spec.split(",") if isinstance(spec, str) else spec
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


@dataclass(frozen=True)
class AddressPolicy:
    """Public unicast addresses only, unless an address is inside an explicitly allowed network."""

    allowed_private: tuple[IPNetwork, ...] = ()

    def refusal(self, address: str) -> str | None:
        """What kind of address ``address`` is when it must not be connected to ('a loopback address'), or None.

        The address itself is left out: the reason reaches the account's admin, who must not learn internal IPs.
        """
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip in METADATA_ADDRESSES:  # before the allowlist: allowing 169.254.0.0/16 must not reopen metadata
            return "a cloud metadata address"
        if any(ip in network for network in self.allowed_private):
            return None
        for kind, flag in (
            ("loopback", ip.is_loopback),
            ("link-local", ip.is_link_local),
            ("multicast", ip.is_multicast),
            ("unspecified", ip.is_unspecified),
            ("reserved", ip.is_reserved),
            ("private", ip.is_private),
        ):
            if flag:
                return f"a {kind} address"
        if not ip.is_global:
            return "an address that is not public"
        return None
