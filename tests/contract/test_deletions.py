"""``SnapshotStore.deletions``: every way a snapshot leaves a store moves the watch's version
before the call returns, in this process and in any other process (or host, for Redis) that
opened the same storage (what lets each worker keep a response cache:
``webapp/response_cache.py``)."""

from __future__ import annotations

import pytest

from backends import open_store, shared_by_processes
from snapshot_server.config import StorageConfig
from snapshot_server.errors import SnapshotNotFound
from snapshot_server.models import hash_secret
from snapshot_server.storage import SnapshotStore
from tests.contract.helpers import watch_of
from tests.support import ManualClock, new_record


async def test_each_kind_of_delete_moves_the_version(
    store: SnapshotStore, clock: ManualClock
) -> None:
    watch = watch_of(store)
    by_key = await store.insert(new_record(clock()))
    by_delete_key = new_record(clock())
    await store.insert(by_delete_key)
    expiring = await store.insert(new_record(clock(), expires_in=5))

    seen = [watch.version()]
    await store.delete(by_key.key, clock(), expect_id=by_key.id)
    seen.append(watch.version())
    await store.delete_by_delete_key(by_delete_key.meta.delete_key_hash, clock())
    seen.append(watch.version())
    clock.advance(10)
    assert [m.id for m in await store.delete_expired(clock())] == [expiring.id]
    seen.append(watch.version())
    assert None not in seen
    assert len(set(seen)) == len(seen)  # each delete moved it


async def test_a_delete_that_removes_nothing_leaves_it(
    store: SnapshotStore, clock: ManualClock
) -> None:
    watch = watch_of(store)
    kept = await store.insert(new_record(clock()))
    before = watch.version()
    with pytest.raises(SnapshotNotFound):
        await store.delete(kept.key, clock(), expect_id=kept.id + 1000)
    with pytest.raises(SnapshotNotFound):
        await store.delete_by_delete_key(hash_secret("unknown"), clock())
    assert await store.delete_expired(clock()) == []
    assert watch.version() == before
    assert (await store.get(kept.key, clock())).meta == kept


async def test_another_process_sees_the_version_move(
    store: SnapshotStore, storage_config: StorageConfig, clock: ManualClock
) -> None:
    other = await open_store(storage_config)  # as another worker opens it
    try:
        made = await store.insert(new_record(clock()))
        if not shared_by_processes(storage_config):
            # A store of one process: another open is another store, with nothing to be told.
            with pytest.raises(SnapshotNotFound):
                await other.get(made.key, clock())
            return
        watch = watch_of(other)
        before = watch.version()
        await store.delete(made.key, clock(), expect_id=made.id)
        # Moved, or (Redis: a message waiting unread on the subscription) not knowable yet.
        assert watch.version() != before
    finally:
        await other.aclose()
