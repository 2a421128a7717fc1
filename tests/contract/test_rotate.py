"""``SnapshotStore.rotate``: a snapshot moves to a new view key in one atomic step, its old key
gone at once or kept as an alias until a grace deadline, on every backend in
``tests/conftest.py`` (manual clock, no sleeping)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

import pytest

from snapshot_server.errors import SnapshotExists, SnapshotNotFound
from snapshot_server.models import SnapshotChanges, SnapshotMeta, hash_secret
from snapshot_server.storage import SnapshotStore
from tests.contract.helpers import PHC, listed, watch_of
from tests.support import ManualClock, assert_unreachable, new_record


async def rotated(
    store: SnapshotStore,
    meta: SnapshotMeta,
    new_key: str,
    now: float,
    grace_until: float | None = None,
) -> SnapshotMeta:
    return await store.rotate(
        meta.key, new_key, now, expect_id=meta.id, updated=now, grace_until=grace_until
    )


class TestRotate:
    async def test_new_key_works_with_the_same_delete_key_and_old_key_stops(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        record = new_record(
            clock(), "old-key", "dk", expires_in=60, dashboard=b'{"x":2}', password_hash=PHC
        )
        stored = await store.insert(record)
        clock.advance(3)
        new = await rotated(store, stored, "new-key", clock())
        assert new == dataclasses.replace(stored, key="new-key", updated=clock())
        got = await store.get("new-key", clock())
        assert (got.meta, got.dashboard) == (new, b'{"x":2}')
        with pytest.raises(SnapshotNotFound):
            await store.get("old-key", clock())
        assert await store.get_by_delete_key(hash_secret("dk"), clock()) == new
        assert await listed(store, clock()) == [new]
        assert await store.org_usage(1, clock()) == await store.org_usage(1, clock() - 3)
        # The old key is free at once.
        other = await store.insert(new_record(clock(), "old-key"))
        assert (await store.get("old-key", clock())).meta == other
        assert await store.delete_by_delete_key(hash_secret("dk"), clock()) == new
        await assert_unreachable(store, "new-key", "dk", new.id, clock())

    async def test_a_new_etag_when_given_everywhere_the_meta_is_read(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock(), "e1", "dk", expires_in=60))
        clock.advance(1)
        new = await store.rotate(
            "e1", "e2", clock(), expect_id=stored.id, updated=clock(), grace_until=clock() + 30,
            etag='"rotated"',
        )  # fmt: skip
        assert new == dataclasses.replace(stored, key="e2", updated=clock(), etag='"rotated"')
        for key in ("e1", "e2"):  # the alias too
            assert (await store.get(key, clock())).meta == new
        assert await store.get_by_delete_key(hash_secret("dk"), clock()) == new
        assert await listed(store, clock()) == [new]

    async def test_delete_by_new_key(self, store: SnapshotStore, clock: ManualClock) -> None:
        stored = await store.insert(new_record(clock(), "k1", "dk"))
        new = await rotated(store, stored, "k2", clock())
        with pytest.raises(SnapshotNotFound):
            await store.delete("k1", clock(), expect_id=stored.id)
        assert await store.delete("k2", clock(), expect_id=stored.id) == new
        await assert_unreachable(store, "k2", "dk", new.id, clock())

    async def test_expiry_follows_the_snapshot(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock(), "k1", expires_in=10))
        new = await rotated(store, stored, "k2", clock())
        clock.advance(9)
        assert await store.delete_expired(clock()) == []
        assert (await store.get("k2", clock())).meta == new
        clock.advance(1)
        with pytest.raises(SnapshotNotFound):
            await store.get("k2", clock())
        assert [m.id for m in await store.delete_expired(clock())] == [stored.id]

    async def test_update_after_rotate(self, store: SnapshotStore, clock: ManualClock) -> None:
        stored = await store.insert(new_record(clock(), "k1"))
        await rotated(store, stored, "k2", clock())
        with pytest.raises(SnapshotNotFound):
            await store.update("k1", clock(), expect_id=stored.id, changes=SnapshotChanges(0))
        new = await store.update(
            "k2", clock(), expect_id=stored.id, changes=SnapshotChanges(clock(), name="renamed")
        )
        assert new.key == "k2"
        assert await listed(store, clock()) == [new]

    async def test_onto_a_taken_key_changes_nothing(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        mine = await store.insert(new_record(clock(), "mine"))
        theirs = await store.insert(new_record(clock(), "theirs"))
        watch = watch_of(store)
        before = watch.version()
        for target in ("theirs", "mine"):
            with pytest.raises(SnapshotExists) as info:
                await rotated(store, mine, target, clock(), grace_until=clock() + 60)
            assert info.value.field == "key"
        assert (await store.get("mine", clock())).meta == mine
        assert (await store.get("theirs", clock())).meta == theirs
        assert await listed(store, clock()) == [mine, theirs]
        assert watch.version() == before

    async def test_other_id_or_expired_is_not_found(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock(), "k1", expires_in=5))
        with pytest.raises(SnapshotNotFound):
            await store.rotate(
                "k1", "k2", clock(), expect_id=stored.id + 99, updated=clock(), grace_until=None
            )
        clock.advance(5)
        with pytest.raises(SnapshotNotFound):
            await rotated(store, stored, "k2", clock())
        clock.advance(-5)
        assert (await store.get("k1", clock())).meta == stored
        with pytest.raises(SnapshotNotFound):
            await store.get("k2", clock())

    async def test_moves_the_deletion_watch(self, store: SnapshotStore, clock: ManualClock) -> None:
        watch = watch_of(store)
        stored = await store.insert(new_record(clock(), "k1"))
        before = watch.version()
        await rotated(store, stored, "k2", clock(), grace_until=clock() + 5)
        assert watch.version() not in (before, None)


class TestAlias:
    async def test_old_key_serves_until_the_grace_deadline(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock(), "k1", dashboard=b'{"y":1}'))
        new = await rotated(store, stored, "k2", clock(), grace_until=clock() + 300)
        clock.advance(299.5)
        via_alias = await store.get("k1", clock())
        assert (via_alias.meta, via_alias.dashboard) == (new, b'{"y":1}')
        assert via_alias.meta.key == "k2"  # the caller can tell it came through an alias
        with pytest.raises(SnapshotExists) as info:
            await store.insert(new_record(clock(), "k1"))
        assert info.value.field == "key"
        clock.advance(0.5)
        with pytest.raises(SnapshotNotFound):
            await store.get("k1", clock())
        assert (await store.get("k2", clock())).meta == new

    async def test_alias_is_not_a_key_for_writes(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock(), "k1"))
        await rotated(store, stored, "k2", clock(), grace_until=clock() + 60)
        with pytest.raises(SnapshotNotFound):
            await store.update("k1", clock(), expect_id=stored.id, changes=SnapshotChanges(0))
        with pytest.raises(SnapshotNotFound):
            await store.rotate(
                "k1", "k3", clock(), expect_id=stored.id, updated=clock(), grace_until=None
            )
        with pytest.raises(SnapshotExists):  # its own live alias is taken too
            await rotated(store, (await store.get("k2", clock())).meta, "k1", clock())
        assert (await store.get("k1", clock())).meta.key == "k2"

    async def test_deleting_the_snapshot_removes_its_aliases(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        for how in ("key", "deleteKey", "expiry"):
            stored = await store.insert(new_record(clock(), "a1", "dk", expires_in=100))
            new = await rotated(store, stored, "a2", clock(), grace_until=clock() + 1000)
            if how == "key":
                await store.delete("a2", clock(), expect_id=new.id)
            elif how == "deleteKey":
                await store.delete_by_delete_key(hash_secret("dk"), clock())
            else:
                clock.advance(100)
                assert [m.id for m in await store.delete_expired(clock())] == [new.id]
            with pytest.raises(SnapshotNotFound):
                await store.get("a1", clock())
            # The alias no longer holds its key.
            again = await store.insert(new_record(clock(), "a1"))
            assert (await store.get("a1", clock())).meta == again
            await store.delete("a1", clock(), expect_id=again.id)

    async def test_each_alias_keeps_its_own_deadline(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock(), "r1"))
        second = await rotated(store, stored, "r2", clock(), grace_until=clock() + 100)
        clock.advance(10)
        third = await rotated(store, second, "r3", clock(), grace_until=clock() + 20)
        for key in ("r1", "r2", "r3"):
            assert (await store.get(key, clock())).meta == third
        clock.advance(20)  # r2's grace ends; r1's runs on
        with pytest.raises(SnapshotNotFound):
            await store.get("r2", clock())
        assert (await store.get("r1", clock())).meta == third
        clock.advance(70)
        with pytest.raises(SnapshotNotFound):
            await store.get("r1", clock())
        assert (await store.get("r3", clock())).meta == third

    async def test_alias_ends_with_the_snapshots_expiry(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock(), "e1", expires_in=10))
        await rotated(store, stored, "e2", clock(), grace_until=clock() + 300)
        clock.advance(10)
        with pytest.raises(SnapshotNotFound):
            await store.get("e1", clock())

    async def test_grace_in_the_past_is_no_alias(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock(), "p1"))
        await rotated(store, stored, "p2", clock(), grace_until=clock())
        with pytest.raises(SnapshotNotFound):
            await store.get("p1", clock())


class TestRaces:
    async def test_two_concurrent_rotates_one_wins(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock(), "c0", "dk"))
        results = await asyncio.gather(
            *(rotated(store, stored, f"c{i}", clock()) for i in (1, 2)),
            return_exceptions=True,
        )
        won = [r for r in results if isinstance(r, SnapshotMeta)]
        assert len(won) == 1
        assert all(isinstance(r, SnapshotNotFound) for r in results if r not in won)
        keys = {"c0", "c1", "c2"}
        live = []
        for key in keys:
            with contextlib.suppress(SnapshotNotFound):
                live.append((await store.get(key, clock())).meta)
        assert live == won
        assert await store.get_by_delete_key(hash_secret("dk"), clock()) == won[0]
        assert await listed(store, clock()) == won

    async def test_rotate_against_delete(self, store: SnapshotStore, clock: ManualClock) -> None:
        stored = await store.insert(new_record(clock(), "d0", "dk"))
        moved, deleted = await asyncio.gather(
            rotated(store, stored, "d1", clock(), grace_until=clock() + 60),
            store.delete_by_delete_key(hash_secret("dk"), clock()),
            return_exceptions=True,
        )
        assert isinstance(deleted, SnapshotMeta)
        assert isinstance(moved, (SnapshotMeta, SnapshotNotFound))
        for key in ("d0", "d1"):
            with pytest.raises(SnapshotNotFound):
                await store.get(key, clock())
        assert await listed(store, clock()) == []
