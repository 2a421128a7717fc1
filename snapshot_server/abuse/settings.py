"""``[limits]``: the abuse limits' settings (``config.example.toml`` documents each key).

Nothing here imports ``snapshot_server.config``: the config loader imports this module.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import limits

from ..config_reader import Section
from ..errors import ConfigError

GIB = 1 << 30


@dataclass(frozen=True, slots=True)
class LimitsSettings:
    """``enabled`` switches the rate limits and per-org caps; the rest always apply.

    Rates are ``limits`` strings ("60/minute", "1000/day", "10/second;100/hour"), counted over
    a moving window. A cap of 0 means no cap.
    """

    enabled: bool = False
    trusted_proxies: tuple[str, ...] = ()
    creates_per_token: str = "60/minute"  # noqa: S105 (a rate, not a password)
    creates_per_address: str = "30/minute"
    deletes_per_address: str = "60/minute"
    unknown_keys_per_address: str = "30/minute"
    max_snapshots_per_org: int = 100_000
    max_bytes_per_org: int = 10 * GIB
    header_timeout: float = 10.0
    body_timeout: float = 120.0
    upload_bytes_in_flight: int = 256 << 20

    @classmethod
    def read(cls, s: Section, *, public_mode: bool) -> LimitsSettings:
        """``[limits]``; ``enabled`` defaults to ``public_mode``. Raises ``ConfigError``
        naming the first bad key."""
        d = cls()
        proxies = tuple(s.get_str_list("trusted_proxies", []) or [])
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ConfigError(
                    f"{s.key('trusted_proxies')}: {proxy!r} is not an IP address or network"
                ) from None
        settings = cls(
            enabled=s.get_bool("enabled", public_mode),
            trusted_proxies=proxies,
            creates_per_token=_rate(s, "creates_per_token", d.creates_per_token),
            creates_per_address=_rate(s, "creates_per_address", d.creates_per_address),
            deletes_per_address=_rate(s, "deletes_per_address", d.deletes_per_address),
            unknown_keys_per_address=_rate(
                s, "unknown_keys_per_address", d.unknown_keys_per_address
            ),
            max_snapshots_per_org=s.get_int("max_snapshots_per_org", d.max_snapshots_per_org, lo=0),
            max_bytes_per_org=s.get_int("max_bytes_per_org", d.max_bytes_per_org, lo=0),
            header_timeout=s.get_float("header_timeout", d.header_timeout, lo=0.1, hi=3600),
            body_timeout=s.get_float("body_timeout", d.body_timeout, lo=0.1, hi=86400),
            upload_bytes_in_flight=s.get_int(
                "upload_bytes_in_flight", d.upload_bytes_in_flight, lo=1 << 20
            ),
        )
        s.done()
        return settings


def _rate(s: Section, name: str, default: str) -> str:
    text = s.get_str(name, default, required=True)
    try:
        limits.parse_many(text)
    except ValueError:
        raise ConfigError(
            f'{s.key(name)}: {text!r} is not a rate such as "60/minute" or "10/second;100/hour"'
        ) from None
    return text
