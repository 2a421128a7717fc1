"""Where the rate limits' counts live: a ``limits`` async storage, made by the composition root.

``snapshot_server`` never imports ``backends``, so it does not know where the configured Redis
is: the CLI hands ``create_app`` a ``LimiterStorage`` (``backends.rate_limit_storage``) when the
storage backend has a server every worker and host shares, and otherwise each process counts
in its own memory (``memory_storage``), which ``serve --workers N`` multiplies by N.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from limits.aio.storage import MemoryStorage, Storage

LimiterStorage = Callable[[], Storage]
"""Makes the storage of one application's rate limits (called once, by ``create_app``)."""


def memory_storage() -> Storage:
    """Counts in this process's memory: nothing shared with other workers or hosts."""
    return MemoryStorage()


async def close_storage(storage: Storage) -> None:
    """Release what ``storage`` holds. The library's storages have no close of their own: the
    memory storage's expiry task is stopped, a Redis storage's client closed."""
    if isinstance(storage, MemoryStorage):
        timer = storage.timer
        if timer is not None and not timer.done():
            timer.cancel()
            await asyncio.wait([timer])  # its end, without taking a cancellation of ours
    # A Redis storage keeps its client (redis-py's, or its cluster client) in ``bridge.storage``.
    client = getattr(getattr(storage, "bridge", None), "storage", None)
    if client is not None:
        await client.aclose()
