"""Driver glue for the Redis backend: connecting, running Lua scripts, and turning driver
errors into ``StorageUnavailable``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import EqualJitterBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisClusterException, RedisError

from snapshot_server.config import RedisConfig
from snapshot_server.errors import StorageUnavailable

Client = Redis | RedisCluster
DRIVER_ERRORS = (RedisError, RedisClusterException, OSError, TimeoutError)


@contextmanager
def unavailable() -> Iterator[None]:
    """Turn any driver exception raised inside into ``StorageUnavailable``."""
    try:
        yield
    except DRIVER_ERRORS as exc:
        raise StorageUnavailable() from exc


def connect(config: RedisConfig) -> Client:
    """A client for ``config`` (no I/O yet). Raises ``ValueError`` or a driver error for a
    malformed URL."""
    common: dict[str, Any] = {
        "max_connections": config.max_connections,
        "socket_timeout": config.socket_timeout,
        "socket_connect_timeout": config.socket_connect_timeout,
    }
    if config.cluster:
        # A few quick retries let the client follow MOVED/failover; each attempt is bounded by
        # socket_timeout, so a dead cluster still fails within a few seconds.
        retry = Retry(EqualJitterBackoff(cap=0.5, base=0.05), 2)
        return RedisCluster.from_url(config.url, retry=retry, **common)
    # One immediate retry on a broken connection (the server restarted) and none on a timeout,
    # so a request fails within about one socket_timeout when Redis hangs.
    retry = Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
    return Redis.from_url(config.url, retry=retry, **common)


class Script:
    """A Lua script run with EVALSHA, falling back to EVAL when the node answers NOSCRIPT.

    Not redis-py's ``register_script``: on NOSCRIPT that sends SCRIPT LOAD to *every* cluster
    primary and so fails while any one of them is down, whereas EVAL loads the script on just
    the node that serves the keys (one that restarted, or a promoted replica).
    """

    def __init__(self, client: Client, text: str) -> None:
        self._client = client
        self._text = text
        self._sha = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, keys: Sequence[str], args: Sequence[bytes | str | int]) -> Any:
        """The script's reply. Raises driver errors (callers wrap them)."""
        try:
            return await self._client.evalsha(self._sha, len(keys), *keys, *args)
        except NoScriptError:
            return await self._client.eval(self._text, len(keys), *keys, *args)


def redacted(url: str) -> str:
    """``url`` with any password replaced by ``***``: safe to log or show."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
