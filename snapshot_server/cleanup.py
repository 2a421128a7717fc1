"""The cleanup job: expired snapshots removed from storage, in chunks that yield.

A store's ``delete_expired`` blocks whatever shares its resource while it runs: the event loop
for the memory backend, the Redis server for Redis, the connection's thread (every request
queues behind the chunk) for SQLite, other writers for the filesystem. So a large backlog (say
100,000 snapshots expiring together) is removed in chunks whose size adapts to keep each one
near ``CHUNK_SECONDS`` (purge hooks and log lines included) but never below ``MIN_CHUNK``
(where a chunk's fixed cost, a commit's fsync or a round trip, would dominate and the backlog
would take for ever), with a pause after each as long as the chunk took: requests are served
between chunks, and the job never takes more than about half of the store's time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .clock import Clock, Sleep
from .errors import SnapshotError
from .storage import SnapshotStore

if TYPE_CHECKING:
    from .service import SnapshotService

log = logging.getLogger(__name__)

CHUNK_SECONDS = 0.005
"""The time one chunk (a ``delete_expired`` call and its hooks) aims to take."""
MIN_CHUNK = 100
"""The fewest snapshots a chunk asks for (unless ``batch`` is smaller): the first chunk of a
round asks for this many, later ones adapt."""

stopwatch: Callable[[], float] = time.perf_counter
"""What each chunk's time is measured with (monotonic seconds)."""

CLEANUP_OUTCOMES = ("ok", "failed")
"""What became of a round of the cleanup job: done, or ended by an error (retried next round)."""

Purge = Callable[[str, str], None]
"""Called as ``purge(key, "expired")`` for each snapshot a chunk removed."""


async def remove_expired(
    store: SnapshotStore, clock: Clock, purge: Purge | None, *, batch: int = 1000
) -> int:
    """Remove every snapshot expired by ``clock()`` (read afresh for each chunk), in chunks of
    at most ``batch``, yielding to the event loop between chunks; ``purge`` each, and log one
    line per chunk (``snapshots deleted reason=expired ids=...``: a line per snapshot would
    cost more than removing it from memory). Returns how many were removed. Raises what
    ``delete_expired`` raises (the snapshots of earlier chunks stay removed)."""
    chunk = max(1, min(batch, MIN_CHUNK))
    total = 0
    while True:
        started = stopwatch()
        gone = await store.delete_expired(clock(), limit=chunk)
        if gone:
            log.info("snapshots deleted reason=expired ids=%s", ",".join(str(m.id) for m in gone))
        if purge is not None:
            for meta in gone:
                purge(meta.key, "expired")
        took = stopwatch() - started
        total += len(gone)
        if len(gone) < chunk:
            return total
        chunk = _next_chunk(chunk, took, batch)
        # Whatever waited for the store (or the loop) during the chunk goes first.
        await asyncio.sleep(took)


def _next_chunk(chunk: int, took: float, batch: int) -> int:
    """The size of the next chunk after ``chunk`` snapshots took ``took`` seconds: scaled
    towards ``CHUNK_SECONDS`` (at most doubled at once), between ``MIN_CHUNK`` and ``batch``."""
    aimed = chunk * 2 if took <= 0 else min(chunk * 2, int(chunk * CHUNK_SECONDS / took))
    return max(1, min(batch, max(MIN_CHUNK, aimed)))


async def run_cleanup_job(
    service: SnapshotService,
    interval: float,
    sleep: Sleep,
    removed_count: Callable[[int], None] = lambda n: None,
    *,
    round_done: Callable[[str], None] = lambda outcome: None,
) -> None:
    """Every ``interval`` seconds remove expired snapshots (``removed_count(n)`` is told how
    many, ``round_done`` how the round ended, one of ``CLEANUP_OUTCOMES``); storage errors are
    logged and the job carries on (the next round retries). Runs until cancelled."""
    while True:
        await sleep(interval)
        try:
            count = await service.cleanup_expired()
        except SnapshotError as exc:
            log.warning("cleanup job: %s", exc.message)
            round_done("failed")
            continue
        except Exception:
            # A bug must not end the job for good: expired data would never be reclaimed.
            log.exception("cleanup job failed; retrying next round")
            round_done("failed")
            continue
        removed_count(count)
        round_done("ok")
        if count:
            log.info("cleanup job removed %d expired snapshot(s)", count)
