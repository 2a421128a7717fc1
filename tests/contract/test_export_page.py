"""``SnapshotStore.export_page`` (what ``export`` and ``migrate`` page through) and what
``insert`` keeps of the metadata it is given (what ``import`` relies on), on every backend."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from snapshot_server.errors import StorageUnavailable
from snapshot_server.models import NewSnapshot, Snapshot, SnapshotChanges, hash_secret
from snapshot_server.storage import SnapshotStore
from tests.support import ManualClock, new_record


async def page_through(store: SnapshotStore, now: float, limit: int) -> list[Snapshot]:
    """Every snapshot ``export_page`` yields, page after page, each page checked."""
    seen: list[Snapshot] = []
    after = 0
    while True:
        page = await store.export_page(after, limit, now)
        assert len(page) <= limit
        seen += page
        if not page:
            return seen
        assert [s.meta.id for s in page] == sorted(s.meta.id for s in page)
        assert page[0].meta.id > after
        after = page[-1].meta.id


async def test_pages_yield_every_snapshot_once_in_id_order_with_exact_bytes(
    store: SnapshotStore, clock: ManualClock
) -> None:
    stored = {}
    for i in range(23):
        dashboard = orjson.dumps({"i": i, "text": "ünï ✓" * i})
        # Several orgs and users: Redis merges the org indexes.
        record = new_record(clock(), org_id=1 + i % 3, user_id=i % 2, dashboard=dashboard)
        stored[(await store.insert(record)).id] = record
    for limit in (1, 5, 23, 100):
        seen = await page_through(store, clock(), limit)
        assert [s.meta.id for s in seen] == sorted(stored)
        for snapshot in seen:
            record = stored[snapshot.meta.id]
            assert snapshot.dashboard == record.dashboard
            assert snapshot.meta == record.stored_as(snapshot.meta.id)


async def test_expired_and_deleted_snapshots_are_not_exported(
    store: SnapshotStore, clock: ManualClock
) -> None:
    short = await store.insert(new_record(clock(), expires_in=10))
    kept = await store.insert(new_record(clock(), expires_in=1000))
    gone = await store.insert(new_record(clock(), delete_key="dk"))
    forever = await store.insert(new_record(clock(), org_id=2))
    await store.delete_by_delete_key(hash_secret("dk"), clock())
    assert [s.meta.id for s in await page_through(store, clock(), 2)] == [
        short.id,
        kept.id,
        forever.id,
    ]
    clock.advance(10)  # expired from this instant on, reclaimed or not
    assert [s.meta.id for s in await page_through(store, clock(), 2)] == [kept.id, forever.id]
    assert gone.id not in [s.meta.id for s in await store.export_page(0, 10, clock())]


async def test_a_key_created_again_is_exported_once_under_its_new_id(
    store: SnapshotStore, clock: ManualClock
) -> None:
    first = await store.insert(new_record(clock(), key="again"))
    await store.delete("again", clock(), expect_id=first.id)
    second = await store.insert(new_record(clock(), key="again", name="second"))
    (only,) = await store.export_page(0, 10, clock())
    assert only.meta == second


async def test_a_page_starting_past_the_last_id_is_empty(
    store: SnapshotStore, clock: ManualClock
) -> None:
    last = await store.insert(new_record(clock()))
    assert await store.export_page(last.id, 10, clock()) == []
    assert (await store.export_page(last.id - 1, 10, clock()))[0].meta == last


async def test_an_org_created_while_paging_is_not_missed(
    store: SnapshotStore, clock: ManualClock
) -> None:
    first = await store.insert(new_record(clock(), org_id=1))
    (page,) = await store.export_page(0, 1, clock())
    assert page.meta == first
    newcomer = await store.insert(new_record(clock(), org_id=77))
    assert [s.meta for s in await store.export_page(first.id, 10, clock())] == [newcomer]


async def test_insert_keeps_every_field_it_is_given_but_the_id(
    store: SnapshotStore, clock: ManualClock
) -> None:
    """An import carries times, etag, deleteKey hash and external fields from another store."""
    record = new_record(clock(), expires_in=5000, dashboard=b"")
    meta = dataclasses.replace(
        record.meta,
        id=0,
        created=clock() - 86400.25,
        updated=clock() - 3600.5,
        etag='"imported-etag"',
        external=True,
        external_url="https://remote.example/dashboard/snapshot/abc",
        external_delete_url="https://remote.example/api/snapshots-delete/def",
    )
    stored = await store.insert(NewSnapshot(meta, b""))
    expected = dataclasses.replace(meta, id=stored.id)
    assert stored == expected
    assert (await store.get(meta.key, clock())).meta == expected
    assert (await store.get_by_delete_key(meta.delete_key_hash, clock())) == expected
    (exported,) = await store.export_page(0, 10, clock())
    assert exported.meta == expected


async def test_export_page_after_aclose_is_storage_unavailable(
    store: SnapshotStore, clock: ManualClock
) -> None:
    await store.insert(new_record(clock()))
    await store.aclose()
    with pytest.raises(StorageUnavailable):
        await store.export_page(0, 10, clock())


async def test_a_rotated_and_updated_snapshot_is_exported_once_as_it_is_now(
    store: SnapshotStore, clock: ManualClock
) -> None:
    """Export after the sharing operations: the rotated snapshot under its new key (not its
    grace alias), with its updated name and password hash, exactly once."""
    before = await store.insert(new_record(clock(), key="old-key", expires_in=1000))
    await page_through(store, clock(), 10)  # an export already under way has read the store
    rotated = await store.rotate(
        "old-key",
        "new-key",
        clock(),
        expect_id=before.id,
        updated=clock() + 1,
        grace_until=clock() + 300,
    )
    changes = SnapshotChanges(updated=clock() + 2, name="renamed", password_hash="$argon2id$x")
    updated = await store.update("new-key", clock(), expect_id=rotated.id, changes=changes)
    seen = await page_through(store, clock(), 10)
    assert [s.meta for s in seen] == [updated]
    assert seen[0].meta.key == "new-key"
    assert seen[0].meta.name == "renamed"
    assert seen[0].meta.password_hash == "$argon2id$x"
