"""``[storage.redis]``: the Redis backend's settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self
from urllib.parse import urlsplit

from snapshot_server.config_reader import Section, redact_url
from snapshot_server.errors import ConfigError


@dataclass(frozen=True, slots=True)
class RedisSettings:
    url: str = "redis://127.0.0.1:6379/0"
    cluster: bool = False
    key_prefix: str = "snapshot:"
    max_connections: int = 64
    socket_timeout: float = 2.0
    socket_connect_timeout: float = 2.0

    @classmethod
    def read(cls, s: Section) -> Self:
        d = cls()
        settings = cls(
            url=s.get_str("url", d.url, required=True),
            cluster=s.get_bool("cluster", d.cluster),
            key_prefix=s.get_str("key_prefix", d.key_prefix),
            max_connections=s.get_int("max_connections", d.max_connections, lo=1),
            socket_timeout=s.get_float("socket_timeout", d.socket_timeout, lo=0.01),
            socket_connect_timeout=s.get_float(
                "socket_connect_timeout", d.socket_connect_timeout, lo=0.01
            ),
        )
        if "{" in settings.key_prefix or "}" in settings.key_prefix:
            # Every key carries a {hash tag} of ours (see backends.redis); a brace in the prefix
            # would become the tag instead and move keys to other cluster slots.
            raise ConfigError(f"{s.key('key_prefix')}: must not contain {{ or }}")
        if urlsplit(settings.url).scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(f"{s.key('url')}: must be a redis://, rediss:// or unix:// URL")
        s.done()
        return settings

    def where(self) -> str:
        return ("cluster " if self.cluster else "") + f"at {redact_url(self.url)}"
