"""The upload bound: how many bytes of request bodies may be held at once (``[limits]
upload_bytes_in_flight``), so that peak memory is bounded whatever the number of clients.

A create reserves, before it reads its body, the most that body can take: its Content-Length
when it is sent as is, else (chunked, or compressed and so only bounded once inflated) the
body limit. The reservation is held until the create is answered, because the dashboard's
stored bytes live that long too (its parsed objects do not: ``creating`` drops them before the
wait on storage, and only one create parses at a time, the parse being synchronous). Uploads
that do not fit wait their turn, first come first served; one that waits longer than it may is
answered 503 with ``Retry-After``.

When the server stops, ``close`` cuts short every upload whose body is still arriving (it is
answered 503 ``ShuttingDown`` at once, nothing stored) and refuses new ones: a slow upload
must not hold the shutdown for its whole bound. Creates whose bodies have fully arrived are
left to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import AsyncIterator

from aiohttp import StreamReader

from ..errors import ServerBusy, ShuttingDown


class UploadGate:
    """At most ``capacity`` bytes reserved at once; a reservation above ``capacity`` is
    clipped to it (it then waits until it is alone)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.reserved = 0
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._bodies: set[StreamReader] = set()
        self._closed = False

    @contextlib.asynccontextmanager
    async def hold(
        self, size: int, *, wait: float, body: StreamReader | None = None
    ) -> AsyncIterator[None]:
        """Reserve ``size`` bytes for the block, waiting at most ``wait`` seconds for room;
        ``body`` (the request's) is cut short by ``close`` while the block runs.

        Raises ``ServerBusy`` (503, ``Retry-After``) when no room came in time, and
        ``ShuttingDown`` once the gate is closed.
        """
        size = max(0, min(size, self.capacity))
        if self._closed:
            raise ShuttingDown()
        await self._acquire(size, wait)
        try:
            if self._closed:  # closed while this upload waited for room
                raise ShuttingDown()
            if body is not None:
                self._bodies.add(body)
            yield
        finally:
            if body is not None:
                self._bodies.discard(body)
            self.reserved -= size
            self._grant()

    def close(self) -> int:
        """Refuse new uploads, and cut short those whose bodies are still arriving: their next
        read raises ``ShuttingDown``. Returns how many were cut."""
        self._closed = True
        cut = 0
        for body in self._bodies:
            if not body.is_eof():
                body.set_exception(ShuttingDown())
                cut += 1
        return cut

    async def _acquire(self, size: int, wait: float) -> None:
        if not self._waiting and self.reserved + size <= self.capacity:
            self.reserved += size
            return
        granted = asyncio.get_running_loop().create_future()
        entry = (size, granted)
        self._waiting.append(entry)
        try:
            await asyncio.wait_for(asyncio.shield(granted), wait)
        except TimeoutError:
            if granted.done():  # granted just as the wait ran out: the bytes are ours
                return
            self._waiting.remove(entry)
            self._grant()  # a smaller upload behind this one may fit now
            raise ServerBusy(retry_after=max(1, math.ceil(wait / 4))) from None
        except BaseException:
            if granted.done():
                self.reserved -= size
            else:
                self._waiting.remove(entry)
            self._grant()
            raise

    def _grant(self) -> None:
        """Admit waiting uploads in arrival order while they fit."""
        while self._waiting and self.reserved + self._waiting[0][0] <= self.capacity:
            size, granted = self._waiting.popleft()
            self.reserved += size
            granted.set_result(None)
