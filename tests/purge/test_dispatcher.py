"""The dispatcher's own promises: submit never blocks or raises, the queue is bounded,
retries back off, and shutdown flushes within its bound."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from email.utils import formatdate

import pytest
from aiohttp import ClientSession

from snapshot_server.logs import secret_ref
from snapshot_server.purge import (
    Delivery,
    PurgeDispatcher,
    PurgeError,
    PurgeEvent,
    backoff_delay,
)
from snapshot_server.purge.recording import RecordingPurger
from snapshot_server.purge.transport import parse_retry_after
from tests.purge.helpers import RecordingSleep, dispatcher, run
from tests.support import ManualClock


class _Hang:
    target = "a cache that never answers"

    def __init__(self, started: asyncio.Event) -> None:
        self.started = started

    async def send(self, session: ClientSession) -> None:
        self.started.set()
        await asyncio.Event().wait()


class HangingPurger:
    name = "hanging[0]"
    max_attempts = 1

    def __init__(self) -> None:
        self.started = asyncio.Event()

    def deliveries(self, events: Sequence[PurgeEvent]) -> list[Delivery]:
        return [_Hang(self.started) for _ in events]


class BrokenPurger:
    name = "broken[0]"
    max_attempts = 1

    def deliveries(self, events: Sequence[PurgeEvent]) -> list[Delivery]:
        raise RuntimeError("bug")


async def test_submit_builds_the_event_and_purges(clock: ManualClock) -> None:
    rec = RecordingPurger()
    d = dispatcher([rec], RecordingSleep(), clock)
    await d.start()
    d.submit("k1", "delete")
    async with asyncio.timeout(5):
        await d.join()
    await d.aclose()
    assert rec.purged == [
        PurgeEvent(
            "k1",
            "delete",
            (
                "https://snapshots.example.com/api/snapshots/k1",
                "https://snapshots.example.com/dashboard/snapshot/k1",
            ),
            clock(),
        )
    ]
    assert (d.stats.submitted, d.stats.succeeded) == (1, 1)


async def test_root_url_without_its_slash_is_normalised(clock: ManualClock) -> None:
    rec = RecordingPurger()
    d = PurgeDispatcher([rec], root_url="https://snap.example.com/s", clock=clock)
    await run(d, "k1")
    assert rec.purged[0].urls == (
        "https://snap.example.com/s/api/snapshots/k1",
        "https://snap.example.com/s/dashboard/snapshot/k1",
    )


async def test_bounded_queue_drops_and_counts(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    d = dispatcher([RecordingPurger()], RecordingSleep(), clock, queue_size=2)
    for key in ("k1", "k2", "k3"):
        d.submit(key, "delete")  # not started: nothing drains the queue
    assert (d.stats.submitted, d.stats.dropped, d.pending) == (2, 1, 2)
    assert f"purge of snapshot {secret_ref('k3')} (delete) dropped: queue full" in caplog.text
    await d.aclose(timeout=0.1)


def test_submit_never_raises(clock: ManualClock) -> None:
    def broken_clock() -> float:
        raise OSError("clock gone")

    d = PurgeDispatcher([RecordingPurger()], root_url="http://x/", clock=broken_clock)
    d.submit("k1", "delete")  # no running loop, no clock: still no exception
    assert (d.stats.submitted, d.stats.dropped) == (0, 1)


async def test_submit_does_not_wait_for_a_hanging_cache(clock: ManualClock) -> None:
    hang = HangingPurger()
    d = dispatcher([hang], RecordingSleep(), clock)
    await d.start()
    t0 = time.perf_counter()
    for i in range(100):
        d.submit(f"k{i}", "delete")
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.05  # 100 submits, each only a put_nowait
    async with asyncio.timeout(5):
        await hang.started.wait()
    await d.aclose(timeout=0.05)


async def test_aclose_flushes_pending_purges(clock: ManualClock) -> None:
    rec = RecordingPurger(failures=[PurgeError("503", retryable=True)])
    d = dispatcher([rec], RecordingSleep(), clock)
    for i in range(20):
        d.submit(f"k{i}", "expired")
    await d.start()
    await d.aclose(timeout=5)
    assert sorted(e.key for e in rec.purged) == sorted(f"k{i}" for i in range(20))
    assert (d.stats.succeeded, d.stats.retried, d.stats.dropped) == (20, 1, 0)
    d.submit("late", "delete")
    assert d.stats.dropped == 1


async def test_aclose_is_bounded(clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    hang = HangingPurger()
    d = dispatcher([hang], RecordingSleep(), clock, workers=1, batch_size=1)
    await d.start()
    d.submit("stuck", "delete")
    d.submit("queued", "delete")
    async with asyncio.timeout(5):
        await hang.started.wait()
    t0 = time.perf_counter()
    await d.aclose(timeout=0.2)
    assert 0.2 <= time.perf_counter() - t0 < 2
    assert (d.stats.failed, d.stats.dropped) == (1, 1)
    assert "hanging[0] a cache that never answers after 1 attempt(s): abandoned" in caplog.text
    assert (
        f"purge of snapshot {secret_ref('queued')} (delete) dropped: not sent before shutdown"
        in caplog.text
    )


async def test_a_broken_purger_does_not_stop_the_others(clock: ManualClock) -> None:
    rec = RecordingPurger()
    d = dispatcher([BrokenPurger(), rec], RecordingSleep(), clock)
    await d.start()
    d.submit("k1", "delete")
    d.submit("k2", "delete")
    async with asyncio.timeout(5):
        await d.join()
    await d.aclose()
    assert sorted(e.key for e in rec.purged) == ["k1", "k2"]
    assert d.stats.failed >= 1


async def test_non_retryable_error_is_tried_once(clock: ManualClock) -> None:
    rec = RecordingPurger(max_attempts=5, failures=[PurgeError("400", retryable=False)])
    sleep = RecordingSleep()
    d = dispatcher([rec], sleep, clock)
    await d.start()
    d.submit("k1", "delete")
    await d.aclose(timeout=5)
    assert (len(rec.attempts), rec.purged, sleep.delays) == (1, [], [])
    assert d.stats.failed == 1


def test_backoff_grows_exponentially_with_jitter_and_cap() -> None:
    delays = [backoff_delay(n, base=0.5, cap=10, rand=0.0) for n in range(1, 7)]
    assert delays == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0]
    top = [backoff_delay(n, base=0.5, cap=10, rand=0.999999) for n in range(1, 7)]
    assert all(lo < hi <= 2 * lo for lo, hi in zip(delays, top, strict=True))
    assert backoff_delay(1, base=0.5, cap=10, rand=0.5, retry_after=3) == 3
    assert backoff_delay(1, base=0.5, cap=10, rand=0.5, retry_after=3600) == 10


def test_parse_retry_after() -> None:
    now = 1_795_321_912.0
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(formatdate(now + 90, usegmt=True), now) == 90.0
    assert parse_retry_after(formatdate(now - 90, usegmt=True), now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
