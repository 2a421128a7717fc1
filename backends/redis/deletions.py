"""``RedisDeletions``: the Redis backend's ``DeletionWatch``, over Redis pub/sub, so that every
worker on every host learns of a delete before the deleting worker answers.

Every delete PUBLISHes a nonce on ``<key_prefix>deletions`` and then waits until this process's
own subscription has received it: Redis writes a message to all subscribers in the same pass,
so by then every other subscriber has it in its socket. Each subscriber counts messages as they
arrive; the count is the version. Before a cached answer is served, ``version`` also looks at
the subscription's socket: bytes waiting there (a message not yet read) make it ``None``, so the
GET goes to Redis instead.

Every process subscribes and publishes at the one node the URL names (in a cluster, PUBLISH
there reaches the subscribers of every node too): if that node is down, every subscription is
down with it and nobody serves from a cache, so a delete that cannot publish still succeeds
(this process drops its own subscription, to be safe).

The subscription is a plain socket speaking the few RESP lines it needs (``asyncio.Protocol``:
a message is counted the moment the event loop reads it, not when a task gets round to it).
While it is down, ``version`` is ``None``; after it comes back the count has moved, so nothing
read before the outage is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import select
import ssl
from typing import cast
from urllib.parse import unquote, urlsplit

from redis.asyncio import Redis

from .client import DRIVER_ERRORS, is_driver_error
from .settings import RedisSettings

log = logging.getLogger(__name__)

ECHO_TIMEOUT = 2.0  # how long a delete waits to see its own message before it drops the link
RETRY_SECONDS = 0.5  # between attempts to subscribe again


def _command(*parts: bytes) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


class _Subscription(asyncio.Protocol):
    def __init__(self, owner: RedisDeletions) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.confirmed = False
        self.tail = b""  # the last bytes read: for nonces split across reads
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is not registered as an ``asyncio.Transport`` subclass).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        seen = self.tail + data
        self.tail = seen[-128:]
        if not self.confirmed:
            if b"-" in data[:1] or b"\r\n-" in seen:
                if self.transport is not None:
                    self.transport.close()  # refused: AUTH, ACL
                return
            if b"subscribe" not in seen:
                return
            self.confirmed = True
            self.owner.up(self)
            seen = seen[seen.index(b"subscribe") :]
        # Every message carries the channel name once: count them, then find our nonces.
        self.owner.received(seen.count(self.owner.channel), seen)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner.down(self)
        if not self.lost.done():
            self.lost.set_result(None)


class RedisDeletions:
    def __init__(self, settings: RedisSettings) -> None:
        self.channel = f"{settings.key_prefix}deletions".encode()
        self._settings = settings
        self._publisher = Redis.from_url(
            settings.url,
            socket_timeout=settings.socket_timeout,
            socket_connect_timeout=settings.socket_connect_timeout,
        )
        self._count = 0
        self._link: _Subscription | None = None  # set while subscribed
        self._fd = -1
        self._echoes: dict[bytes, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        """Subscribe, and keep subscribing again whenever the link drops. Returns once
        subscribed, or after ``socket_connect_timeout`` (then it keeps trying meanwhile)."""
        self._task = asyncio.get_running_loop().create_task(self._subscribe_forever())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), self._settings.socket_connect_timeout)

    def version(self) -> int | None:
        if self._link is None:
            return None
        readable, _, _ = select.select([self._fd], [], [], 0)
        return None if readable else self._count

    async def announce(self) -> None:
        """PUBLISH that snapshots were deleted and return once this process's subscription saw
        it (or, failing that within ``ECHO_TIMEOUT``, once the subscription is dropped: until
        it is back nothing is cached here). Never raises."""
        nonce = secrets.token_hex(12).encode()
        echo = asyncio.get_running_loop().create_future()
        self._echoes[nonce] = echo
        try:
            try:
                await self._publisher.publish(self.channel, nonce)
            except Exception as exc:
                if not is_driver_error(exc):
                    raise
                log.warning("Redis deletions: cannot publish (%s); resubscribing", exc)
                self._drop()
                return
            if self._link is not None:
                try:
                    await asyncio.wait_for(echo, ECHO_TIMEOUT)
                except TimeoutError:
                    log.warning("Redis deletions: own message not seen; resubscribing")
                    self._drop()
        finally:
            self._echoes.pop(nonce, None)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._drop()
        with contextlib.suppress(*DRIVER_ERRORS):
            await self._publisher.aclose()

    # -- the subscription ----------------------------------------------------------------------

    def up(self, link: _Subscription) -> None:
        self._count += 1  # whatever was read before may have missed deletes
        self._link = link
        assert link.transport is not None
        self._fd = link.transport.get_extra_info("socket").fileno()
        self._subscribed.set()

    def received(self, messages: int, seen: bytes) -> None:
        self._count += messages
        for nonce, echo in self._echoes.items():
            if nonce in seen and not echo.done():
                echo.set_result(None)

    def down(self, link: _Subscription) -> None:
        if self._link is link:
            self._link = None
            self._count += 1

    def _drop(self) -> None:
        link = self._link
        self._link = None
        self._count += 1
        if link is not None and link.transport is not None:
            link.transport.close()

    async def _subscribe_forever(self) -> None:
        while True:
            try:
                link = await self._connect()
                await link.lost
            except (*DRIVER_ERRORS, ValueError) as exc:
                log.debug("Redis deletions: cannot subscribe: %s", exc)
            await asyncio.sleep(RETRY_SECONDS)

    async def _connect(self) -> _Subscription:
        loop = asyncio.get_running_loop()
        url = urlsplit(self._settings.url)
        timeout = self._settings.socket_connect_timeout
        if url.scheme == "unix":
            connecting = loop.create_unix_connection(lambda: _Subscription(self), url.path)
        else:
            tls = ssl.create_default_context() if url.scheme == "rediss" else None
            host, port = url.hostname or "127.0.0.1", url.port or 6379
            connecting = loop.create_connection(lambda: _Subscription(self), host, port, ssl=tls)
        # The transport returned, not ``link.transport``: uvloop may call ``connection_made``
        # only after this await has resumed.
        transport, link = await asyncio.wait_for(connecting, timeout)
        hello = b""
        if url.password is not None:
            user = unquote(url.username or "default").encode()
            hello = _command(b"AUTH", user, unquote(url.password).encode())
        if transport.is_closing():  # Redis hung up at once (restarting); uvloop would raise
            raise ConnectionResetError("Redis closed the connection")
        transport.write(hello + _command(b"SUBSCRIBE", self.channel))
        return link
