"""``SnapshotStore.org_usage``, the per-org caps' measure, on every backend: exact counts and
dashboard bytes through inserts, both deletes, expiry and cleanup, as the reference backend
(memory) defines them."""

from __future__ import annotations

import asyncio

import pytest

from snapshot_server.errors import SnapshotExists
from snapshot_server.models import hash_secret
from snapshot_server.storage import OrgUsage, SnapshotStore
from tests.support import ManualClock, new_record


def dashboard(size: int) -> bytes:
    """A dashboard of exactly ``size`` bytes."""
    return b'{"t":"' + b"x" * (size - 8) + b'"}'


async def test_an_org_without_snapshots_holds_nothing(
    store: SnapshotStore, clock: ManualClock
) -> None:
    assert await store.org_usage(1, clock()) == OrgUsage(0, 0)
    assert await store.org_usage(987654, clock()) == OrgUsage(0, 0)


async def test_inserts_count_per_org_with_their_exact_dashboard_bytes(
    store: SnapshotStore, clock: ManualClock
) -> None:
    await store.insert(new_record(clock(), org_id=1, dashboard=dashboard(100)))
    await store.insert(new_record(clock(), org_id=1, dashboard=dashboard(250), expires_in=60))
    await store.insert(new_record(clock(), org_id=2, user_id=7, dashboard=dashboard(1000)))
    assert await store.org_usage(1, clock()) == OrgUsage(2, 350)
    assert await store.org_usage(2, clock()) == OrgUsage(1, 1000)


async def test_a_refused_insert_counts_nothing(store: SnapshotStore, clock: ManualClock) -> None:
    await store.insert(new_record(clock(), key="taken", dashboard=dashboard(100)))
    with pytest.raises(SnapshotExists):
        await store.insert(new_record(clock(), key="taken", dashboard=dashboard(500)))
    assert await store.org_usage(1, clock()) == OrgUsage(1, 100)


async def test_both_deletes_uncount_once(store: SnapshotStore, clock: ManualClock) -> None:
    by_key = await store.insert(new_record(clock(), dashboard=dashboard(100)))
    await store.insert(new_record(clock(), delete_key="dk", dashboard=dashboard(200)))
    kept = await store.insert(new_record(clock(), dashboard=dashboard(300)))
    await store.delete(by_key.key, clock(), expect_id=by_key.id)
    assert await store.org_usage(1, clock()) == OrgUsage(2, 500)
    await store.delete_by_delete_key(hash_secret("dk"), clock())
    assert await store.org_usage(1, clock()) == OrgUsage(1, 300)
    # Deletes that find nothing uncount nothing.
    for attempt in (
        store.delete(by_key.key, clock(), expect_id=by_key.id),
        store.delete(kept.key, clock(), expect_id=kept.id + 1000),
        store.delete_by_delete_key(hash_secret("dk"), clock()),
    ):
        with pytest.raises(Exception, match="not found"):
            await attempt
    assert await store.org_usage(1, clock()) == OrgUsage(1, 300)


async def test_expired_snapshots_stop_counting_the_instant_they_expire(
    store: SnapshotStore, clock: ManualClock
) -> None:
    await store.insert(new_record(clock(), dashboard=dashboard(100), expires_in=10))
    await store.insert(new_record(clock(), dashboard=dashboard(200), expires_in=20))
    await store.insert(new_record(clock(), dashboard=dashboard(400)))
    clock.advance(9.999)
    assert await store.org_usage(1, clock()) == OrgUsage(3, 700)
    clock.advance(0.001)  # the first expires now, before any cleanup
    assert await store.org_usage(1, clock()) == OrgUsage(2, 600)
    # Cleanup removes it without it being taken off a second time.
    assert len(await store.delete_expired(clock())) == 1
    assert await store.org_usage(1, clock()) == OrgUsage(2, 600)
    clock.advance(10)
    assert await store.org_usage(1, clock()) == OrgUsage(1, 400)
    await store.delete_expired(clock())
    assert await store.org_usage(1, clock()) == OrgUsage(1, 400)


async def test_a_key_reused_after_its_delete_counts_once(
    store: SnapshotStore, clock: ManualClock
) -> None:
    first = await store.insert(new_record(clock(), key="again", dashboard=dashboard(100)))
    await store.delete("again", clock(), expect_id=first.id)
    await store.insert(new_record(clock(), key="again", dashboard=dashboard(150)))
    assert await store.org_usage(1, clock()) == OrgUsage(1, 150)


async def test_concurrent_inserts_and_deletes_all_count(
    store: SnapshotStore, clock: ManualClock
) -> None:
    doomed = [await store.insert(new_record(clock(), dashboard=dashboard(50))) for _ in range(10)]
    await asyncio.gather(
        *(store.insert(new_record(clock(), dashboard=dashboard(100))) for _ in range(20)),
        *(store.delete(m.key, clock(), expect_id=m.id) for m in doomed),
    )
    assert await store.org_usage(1, clock()) == OrgUsage(20, 2000)
