"""Which IP addresses the crawler may connect to (SSRF protection), as a pure rule."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud metadata and credential endpoints, as ranges: refused whatever the allowlist says (AWS, GCP, Azure
# and others at 169.254.169.254; ECS task metadata and EKS pod identity in 169.254.170.0/24; AWS IPv6 in
# fd00:ec2::/32; Alibaba Cloud).
METADATA_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(network)
    for network in ("169.254.169.0/24", "169.254.170.0/24", "fd00:ec2::/32", "100.100.100.200/32")
)
_NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def embedded_ipv4(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo client, NAT64), else the address itself:
    a host reached through such an address is that IPv4 host, and must be judged as one."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in prefix for prefix in _NAT64_PREFIXES):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


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
        ip = embedded_ipv4(ipaddress.ip_address(address.split("%", 1)[0]))
        if any(ip in network for network in METADATA_NETWORKS):  # before the allowlist: allowing
            return "a cloud metadata address"  # 169.254.0.0/16 must not reopen metadata
        if any(ip in network for network in self.allowed_private):
            return None
        for kind, flag in (
            ("loopback", ip.is_loopback),
            ("link-local", ip.is_link_local),
            # fec0::/10, deprecated (RFC 3879) yet still routed inside some networks; Python counts it neither
            # private nor reserved, and only IPv6 addresses have the flag.
            ("site-local", isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local),
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
