"""Driver glue for the Redis backend: the one error boundary (``Connection.call``), and Lua
scripts run by digest."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import EqualJitterBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisClusterException, RedisError

from snapshot_server.errors import StorageUnavailable, StoreClosed

Client = Redis | RedisCluster
DRIVER_ERRORS = (RedisError, RedisClusterException, OSError, TimeoutError)

T = TypeVar("T")


def retry_policy(cluster: bool) -> Retry:
    """How a client of ours retries a failed command (the store's, and the rate limiter's).

    One server: one immediate retry on a broken connection (the server restarted) and none on
    a timeout, so a request fails within about one socket_timeout when Redis hangs (redis-py's
    default would retry three times with backoff). A cluster: a few quick retries, so the
    client can follow MOVED and failovers; each attempt is bounded by socket_timeout, so a dead
    cluster still fails within a few seconds.
    """
    if cluster:
        return Retry(EqualJitterBackoff(cap=0.5, base=0.05), 2)
    return Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))


def is_driver_error(exc: BaseException) -> bool:
    """Whether ``exc`` means "Redis failed us" (a driver error or a broken connection)."""
    if isinstance(exc, DRIVER_ERRORS):
        return True
    # On uvloop a write to a connection Redis has closed raises this RuntimeError from the
    # transport, where asyncio's transport lets redis-py see a ConnectionError: the same
    # broken connection, which must be a 503, not a 500.
    return isinstance(exc, RuntimeError) and "handler is closed" in str(exc)


@contextmanager
def unavailable() -> Iterator[None]:
    """Turn any driver exception raised inside into ``StorageUnavailable``."""
    try:
        yield
    except Exception as exc:
        if not is_driver_error(exc):
            raise
        raise StorageUnavailable() from exc


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


class Connection:
    """A client shared by the store and its topology, behind a gate of ``max_connections``."""

    def __init__(self, client: Client, max_connections: int) -> None:
        self.client = client
        # The cluster client's per-node pools raise instead of waiting when full; this gate
        # makes callers queue instead (each call holds at most one connection per node).
        self._gate = asyncio.Semaphore(max_connections)
        self._closed = False

    def script(self, text: str) -> Script:
        return Script(self.client, text)

    async def call(self, awaitable: Awaitable[T]) -> T:
        """Await one driver call under the gate: the backend's one error boundary. Driver
        errors, and any call after ``aclose``, raise ``StorageUnavailable``."""
        if self._closed:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()  # never awaited: close it so Python does not warn
            raise StorageUnavailable() from StoreClosed()
        try:
            await self._gate.acquire()
        except BaseException:
            # Cancelled while queued (a batch whose other call failed, a client gone): the
            # call will never run, so close it rather than leave it to warn "never awaited".
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise
        try:
            with unavailable():
                return await awaitable
        finally:
            self._gate.release()

    async def aclose(self) -> None:
        """Close the client. Idempotent; every ``call`` raises ``StorageUnavailable`` after."""
        if self._closed:
            return
        self._closed = True
        with unavailable():
            await self.client.aclose()
