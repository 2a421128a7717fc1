"""``[storage.redis]``: the Redis backend's settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

from snapshot_server.config_reader import Section, redact_url
from snapshot_server.errors import ConfigError

if TYPE_CHECKING:
    from limits.aio.storage import Storage


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

    def rate_limit_storage(self) -> Storage:
        """A ``limits`` storage on this Redis (or cluster), so that the rate limits of every
        worker and host count together: its own client, with the store's timeouts, pool size
        and retries, its keys under ``<key_prefix>limits:``."""
        from limits.aio.storage import RedisClusterStorage, RedisStorage

        from .client import retry_policy

        scheme, _, rest = self.url.partition("://")
        options: dict[str, Any] = {
            "implementation": "redispy",  # the client this backend uses (the default: coredis)
            "key_prefix": f"{self.key_prefix}limits",
            "max_connections": self.max_connections,
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.socket_connect_timeout,
            "retry": retry_policy(self.cluster),
        }
        if self.cluster:
            uri = f"async+redis+cluster://{rest}"
            return RedisClusterStorage(uri, ssl=scheme == "rediss", **options)
        # async+redis://, async+rediss://, async+redis+unix:// (the library's spellings)
        uri = f"async+{'redis+unix' if scheme == 'unix' else scheme}://{rest}"
        return RedisStorage(uri, **options)
