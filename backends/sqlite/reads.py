"""``ReadBatcher``: concurrent reads by key share one hop to the database thread.

A store has one connection, and so one thread, for its statements; every statement is a hop
there and back, and the way back waits for the event loop's thread to let go of the GIL. Under
concurrent GETs the hops, not SQLite, set the pace. So lookups by key that arrive while a batch
is in flight wait together and go as one ``WHERE key IN (...)`` statement.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable

MAX_BATCH = 256  # keys per statement (SQLite allows 32766 variables)

Fetch = Callable[[list[str]], Awaitable[list[sqlite3.Row]]]


class ReadBatcher:
    """``get(key)`` the row of ``key`` (or ``None``) through ``fetch(keys)``, which returns the
    rows of any of ``keys`` (each row with a ``key`` column); one ``fetch`` runs at a time."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._waiting: dict[str, asyncio.Future[sqlite3.Row | None]] = {}
        self._task: asyncio.Task[None] | None = None

    async def get(self, key: str) -> sqlite3.Row | None:
        """The row of ``key``, or ``None``. Raises what ``fetch`` raised for its batch."""
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
                    rows = await self._fetch(keys)
                except Exception as exc:
                    for future in batch.values():
                        if not future.done():
                            future.set_exception(exc)
                    continue
                found = {row["key"]: row for row in rows}
                for key, future in batch.items():
                    if not future.done():
                        future.set_result(found.get(key))
        finally:
            self._task = None
            for future in self._waiting.values():  # only if cancelled (closing): never left hanging
                if not future.done():
                    future.cancel()
            self._waiting.clear()
