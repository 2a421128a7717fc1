"""Who a request comes from, for the per-address limits: the client address, and the key its
limits are counted under.

``X-Forwarded-For`` is believed only from ``[limits] trusted_proxies``: anyone else can write
any address into it. From a trusted proxy, the header is read from the right (each proxy
appends the address it received the request from), skipping the trusted proxies, and the first
address that is not one of them is the client: what lies to its left was written by that client
and proves nothing. A header that is not a plain list of IP addresses is ignored, and the
connection's own address counts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

UNKNOWN = "unknown"  # no address at all (a Unix socket): all such clients share one count
IPV6_PREFIX = 64  # one IPv6 host is commonly given a whole /64: count it as one client


def parse_networks(texts: Iterable[str]) -> tuple[Network, ...]:
    """``trusted_proxies`` (addresses or CIDR networks, validated by the settings) as networks."""
    return tuple(ipaddress.ip_network(text, strict=False) for text in texts)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]
) -> str:
    """The client's address: ``peer`` (the connection's address, ``request.remote``), or, when
    ``peer`` is a trusted proxy, the right-most address of ``forwarded_for`` (every
    ``X-Forwarded-For`` header, in order) that is not a trusted proxy; if all of them are, the
    left-most. A missing or malformed header (anything but IP addresses separated by commas)
    gives ``peer``. Addresses come back in canonical form (``2001:db8::1``)."""
    connection = _address(peer)
    if connection is None:
        return peer or UNKNOWN
    if not forwarded_for or not _within(connection, trusted):
        return str(connection)
    hops: list[Address] = []
    for item in ",".join(forwarded_for).split(","):
        hop = _address(item.strip())
        if hop is None:
            return str(connection)
        hops.append(hop)
    for hop in reversed(hops):
        if not _within(hop, trusted):
            return str(hop)
    return str(hops[0])


def limit_key(address: str) -> str:
    """What an address's limits are counted under: an IPv4 address itself (an IPv4-mapped IPv6
    address counts as its IPv4 address), an IPv6 address's /64 network (a single host may use
    any address in it), anything else as it is."""
    parsed = _address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False))
    return address


def _address(text: str | None) -> Address | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _within(address: Address, networks: Sequence[Network]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket reports IPv4 peers this way
    return any(address in network for network in networks)
