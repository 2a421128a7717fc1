"""The client address behind the per-address limits: ``X-Forwarded-For`` believed only from
trusted proxies and read from the right; malformed headers ignored; IPv6 counted per /64."""

from __future__ import annotations

import pytest

from snapshot_server.abuse.addresses import client_address, limit_key, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.7"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # Not from a trusted proxy: the header proves nothing.
        ("203.0.113.5", ["198.51.100.1"], "203.0.113.5"),
        # From a trusted proxy: the address it received the request from.
        ("10.1.2.3", ["198.51.100.1"], "198.51.100.1"),
        ("192.0.2.7", ["198.51.100.1"], "198.51.100.1"),
        # Written by the client (left) and appended by proxies (right): right-most untrusted.
        ("10.1.2.3", ["6.6.6.6, 198.51.100.1, 10.9.9.9"], "198.51.100.1"),
        ("10.1.2.3", ["6.6.6.6", "198.51.100.1", "10.9.9.9"], "198.51.100.1"),  # several headers
        # Every hop a trusted proxy: the left-most, the furthest known.
        ("10.1.2.3", ["10.5.5.5, 10.9.9.9"], "10.5.5.5"),
        # No header, or an empty one: the connection.
        ("10.1.2.3", [], "10.1.2.3"),
        ("10.1.2.3", [""], "10.1.2.3"),
        # Malformed: not a plain list of addresses, so none of it is believed.
        ("10.1.2.3", ["198.51.100.1, not-an-ip"], "10.1.2.3"),
        ("10.1.2.3", ["198.51.100.1:4711"], "10.1.2.3"),
        ("10.1.2.3", ["198.51.100.1,,10.9.9.9"], "10.1.2.3"),
        ("10.1.2.3", ["unknown"], "10.1.2.3"),
        # IPv6, in canonical form; a trusted IPv6 proxy network.
        ("2001:db8:ffff:1::1", ["2001:DB8:0:0::0042"], "2001:db8::42"),
        ("2001:db8:ffff:1::1", ["2001:db8::42, 2001:db8:ffff::9"], "2001:db8::42"),
        # An IPv4 proxy seen through a dual-stack socket is still that proxy.
        ("::ffff:10.1.2.3", ["198.51.100.1"], "198.51.100.1"),
    ],
)
def test_client_address(peer: str, forwarded: list[str], expected: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


def test_without_trusted_proxies_the_header_is_never_believed() -> None:
    assert client_address("127.0.0.1", ["198.51.100.1"], ()) == "127.0.0.1"


@pytest.mark.parametrize("peer", [None, ""])
def test_a_connection_without_an_address_counts_as_unknown(peer: str | None) -> None:
    assert client_address(peer, ["198.51.100.1"], PROXIES) == "unknown"


def test_a_peer_that_is_not_an_ip_address_is_its_own_key() -> None:
    assert client_address("/run/snapshot.sock", [], PROXIES) == "/run/snapshot.sock"


LIMIT_KEYS = {
    "198.51.100.1": "198.51.100.1",
    # One host commonly holds a whole /64: all of it counts as one client.
    "2001:db8:1:2:aaaa::1": "2001:db8:1:2::/64",
    "2001:db8:1:2:bbbb::9": "2001:db8:1:2::/64",
    "2001:db8:1:3::1": "2001:db8:1:3::/64",
    "::ffff:198.51.100.1": "198.51.100.1",
    "unknown": "unknown",
}


@pytest.mark.parametrize(("address", "key"), LIMIT_KEYS.items())
def test_limit_key(address: str, key: str) -> None:
    assert limit_key(address) == key
