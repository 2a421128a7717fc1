"""``ReadBatcher``: concurrent reads by key share one trip to the storage.

SQLite: a store has one connection, and so one thread, for its statements; every statement is a
hop there and back, and the way back waits for the event loop's thread to let go of the GIL.
Redis: every read is a round trip, and redis-py's per-command overhead is most of a GET's cost.
Under concurrent GETs the trips, not the storage, set the pace. So lookups by key that arrive
while a batch is in flight wait together and go as one statement (``WHERE key IN (...)``) or one
pipeline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, TypeVar

MAX_BATCH = 256  # keys per trip (SQLite allows 32766 variables)

T = TypeVar("T")


class ReadBatcher(Generic[T]):
    """``get(key)`` what ``fetch(keys)`` found for ``key`` (or ``None``); ``fetch`` returns a
    mapping from the keys it found; one ``fetch`` runs at a time."""

    def __init__(self, fetch: Callable[[list[str]], Awaitable[Mapping[str, T]]]) -> None:
        self._fetch = fetch
        self._waiting: dict[str, asyncio.Future[T | None]] = {}
        self._task: asyncio.Task[None] | None = None

    async def get(self, key: str) -> T | None:
        """What was found for ``key``, or ``None``. Raises what ``fetch`` raised for its batch."""
        future = self._waiting.get(key)
        if future is None:
            future = self._waiting[key] = asyncio.get_running_loop().create_future()
            if self._task is None:
                self._task = asyncio.get_running_loop().create_task(self._drain())
        # Shielded: a caller that gives up must not cancel the answer others wait for.
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        try:
            while self._waiting:
                keys = list(self._waiting)[:MAX_BATCH]
                batch = {key: self._waiting.pop(key) for key in keys}
                try:
                    found = await self._fetch(keys)
                except Exception as exc:
                    for future in batch.values():
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for key, future in batch.items():
                    if not future.done():
                        future.set_result(found.get(key))
        finally:
            self._task = None
            for future in self._waiting.values():  # only if cancelled (closing): never left hanging
                if not future.done():
                    future.cancel()
            self._waiting.clear()
