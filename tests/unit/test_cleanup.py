"""The cleanup job's chunks (``snapshot_server.cleanup``): requests are served between them,
and their size follows how long each took, within ``batch``."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from backends.memory import MemoryStore
from snapshot_server import cleanup
from snapshot_server.auth import ANONYMOUS
from snapshot_server.config import Config
from snapshot_server.models import SnapshotMeta
from snapshot_server.service import SnapshotService
from tests.support import ManualClock, new_record


class RecordingStore(MemoryStore):
    """A memory store noting each ``delete_expired`` call (its ``limit``) in ``events``."""

    def __init__(self, events: list[str]) -> None:
        super().__init__()
        self.events = events
        self.limits: list[int] = []

    async def delete_expired(self, now: float, limit: int = 1000) -> list[SnapshotMeta]:
        self.events.append("chunk")
        self.limits.append(limit)
        return await super().delete_expired(now, limit)


async def service_with_expired(clock: ManualClock, count: int) -> tuple[SnapshotService, str]:
    """A service over a ``RecordingStore`` holding ``count`` expired snapshots and one live
    one; returns the service and the live one's key."""
    store = RecordingStore([])
    for _ in range(count):
        await store.insert(new_record(clock(), expires_in=5))
    live = await store.insert(new_record(clock()))
    clock.advance(5)
    return SnapshotService(Config(), store, clock=clock), live.key


async def test_views_are_served_between_chunks(clock: ManualClock) -> None:
    """The memory store never suspends, so without a yield between chunks the whole cleanup
    would run before any view."""
    service, live = await service_with_expired(clock, 300)
    assert isinstance(service.store, RecordingStore)
    events = service.store.events
    job = asyncio.create_task(service.cleanup_expired(batch=50))

    async def view_until_done() -> None:
        while not job.done():
            assert (await service.view(ANONYMOUS, live)).meta.key == live
            events.append("view")
            await asyncio.sleep(0)

    await asyncio.gather(job, view_until_done())
    assert job.result() == 300
    first, last = events.index("chunk"), len(events) - 1 - events[::-1].index("chunk")
    between = events[first:last]
    assert between.count("chunk") >= 6  # 300 in chunks of at most 50
    # Every chunk but the last is followed by at least one view.
    assert all(b == "view" for a, b in itertools.pairwise(between) if a == "chunk")


@pytest.mark.parametrize(
    ("took", "limits"),
    [
        # Fast: doubled up to batch; the chunk that finds fewer than it asked for is the last.
        ({}, [100, 200, 400, 800, 1000, 1000, 1000]),
        # A chunk of 800 took 4 times the aim: a quarter of it, then growing again.
        ({3: 4}, [100, 200, 400, 800, 200, 400, 800, 1000, 1000]),
        # Always slow: never below the floor.
        ({n: 10 for n in range(20)}, [100] * 21),
    ],
)
async def test_chunks_follow_the_time_each_took(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch, took: dict[int, int], limits: list[int]
) -> None:
    """``took`` maps a chunk's number to its time in multiples of the aim (else instant)."""
    times = itertools.chain.from_iterable(
        (0.0, took.get(n, 0) * cleanup.CHUNK_SECONDS) for n in itertools.count()
    )
    monkeypatch.setattr(cleanup, "stopwatch", lambda: next(times))
    expired = sum(limits) - limits[-1] + limits[-1] // 2
    service, _live = await service_with_expired(clock, expired)
    assert isinstance(service.store, RecordingStore)
    assert await service.cleanup_expired(batch=1000) == expired
    assert service.store.limits == limits
