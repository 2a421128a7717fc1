"""``SnapshotStore.update``: one atomic compare-and-update of a snapshot's name, expiry,
password hash or etag, on every backend in ``tests/conftest.py`` (manual clock, no sleeping)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from snapshot_server.errors import SnapshotNotFound
from snapshot_server.models import (
    ListQuery,
    SnapshotChanges,
    SnapshotMeta,
    hash_secret,
)
from snapshot_server.storage import OrgUsage, SnapshotStore
from tests.contract.helpers import PHC, listed, watch_of
from tests.support import ManualClock, new_record

ALL = ListQuery("", 100, 1)


class TestFields:
    async def test_name_changes_and_nothing_else(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        record = new_record(clock(), name="before", expires_in=60, dashboard=b'{"a":1}')
        stored = await store.insert(record)
        clock.advance(5)
        new = await store.update(
            stored.key,
            clock(),
            expect_id=stored.id,
            changes=SnapshotChanges(updated=clock(), name="after"),
        )
        assert new == dataclasses.replace(stored, name="after", updated=clock())
        got = await store.get(stored.key, clock())
        assert got.meta == new
        assert got.dashboard == b'{"a":1}'
        assert await store.get_by_delete_key(stored.delete_key_hash, clock()) == new
        assert await listed(store, clock()) == [new]
        # The name search index follows: the new name is found, the old one is not.
        assert await listed(store, clock(), "AFT") == [new]
        assert await listed(store, clock(), "before") == []

    async def test_password_hash_set_then_removed(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock()))
        assert stored.password_hash == ""
        locked = await store.update(
            stored.key,
            clock(),
            expect_id=stored.id,
            changes=SnapshotChanges(updated=clock() + 1, password_hash=PHC),
        )
        assert locked == dataclasses.replace(stored, password_hash=PHC, updated=clock() + 1)
        assert (await store.get(stored.key, clock())).meta.password_hash == PHC
        assert (await listed(store, clock()))[0].password_hash == PHC
        # None leaves it; "" removes it.
        kept = await store.update(
            stored.key, clock(), expect_id=stored.id, changes=SnapshotChanges(updated=clock() + 2)
        )
        assert kept.password_hash == PHC
        opened = await store.update(
            stored.key,
            clock(),
            expect_id=stored.id,
            changes=SnapshotChanges(updated=clock() + 3, password_hash=""),
        )
        assert (await store.get(stored.key, clock())).meta == opened
        assert opened.password_hash == ""

    async def test_password_hash_given_at_insert_round_trips(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock(), password_hash=PHC))
        assert stored.password_hash == PHC
        assert (await store.get(stored.key, clock())).meta == stored
        assert await listed(store, clock()) == [stored]

    async def test_etag_changes(self, store: SnapshotStore, clock: ManualClock) -> None:
        stored = await store.insert(new_record(clock()))
        new = await store.update(
            stored.key,
            clock(),
            expect_id=stored.id,
            changes=SnapshotChanges(updated=clock(), etag='"f"'),
        )
        assert (await store.get(stored.key, clock())).meta == new
        assert new.etag == '"f"'

    async def test_org_usage_is_unchanged(self, store: SnapshotStore, clock: ManualClock) -> None:
        stored = await store.insert(new_record(clock(), expires_in=60, dashboard=b"{}"))
        before = await store.org_usage(1, clock())
        await store.update(
            stored.key,
            clock(),
            expect_id=stored.id,
            changes=SnapshotChanges(updated=clock(), name="x", expires=clock() + 600),
        )
        assert await store.org_usage(1, clock()) == before == OrgUsage(1, 2)


class TestExpiry:
    async def test_shortened_to_now_is_absent_at_once_and_cleaned(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock(), delete_key="dk"))
        await store.update(
            stored.key,
            clock(),
            expect_id=stored.id,
            changes=SnapshotChanges(updated=clock(), expires=clock()),
        )
        with pytest.raises(SnapshotNotFound):
            await store.get(stored.key, clock())
        with pytest.raises(SnapshotNotFound):
            await store.get_by_delete_key(hash_secret("dk"), clock())
        assert await listed(store, clock()) == []
        assert (await store.org_usage(1, clock())).snapshots == 0
        removed = await store.delete_expired(clock())
        assert [m.id for m in removed] == [stored.id]
        assert removed[0].expires == clock()
        assert await store.delete_expired(clock()) == []

    async def test_shortened_is_cleaned_at_the_new_time(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock(), expires_in=1000))
        await store.update(
            stored.key,
            clock(),
            expect_id=stored.id,
            changes=SnapshotChanges(updated=clock(), expires=clock() + 10),
        )
        clock.advance(9)
        assert await store.delete_expired(clock()) == []
        clock.advance(1)
        assert [m.id for m in await store.delete_expired(clock())] == [stored.id]

    async def test_lengthened_is_left_by_cleanup(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock(), expires_in=10))
        new = await store.update(
            stored.key,
            clock(),
            expect_id=stored.id,
            changes=SnapshotChanges(updated=clock(), expires=clock() + 100),
        )
        clock.advance(50)
        assert await store.delete_expired(clock()) == []
        assert (await store.get(stored.key, clock())).meta == new
        clock.advance(50)
        assert [m.id for m in await store.delete_expired(clock())] == [stored.id]

    async def test_never_expires_is_left_by_cleanup(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock(), expires_in=10))
        new = await store.update(
            stored.key,
            clock(),
            expect_id=stored.id,
            changes=SnapshotChanges(updated=clock(), expires=None),
        )
        assert new.expires is None
        clock.advance(86400)
        assert await store.delete_expired(clock()) == []
        assert (await store.get(stored.key, clock())).meta == new

    async def test_never_expiring_given_an_expiry_is_cleaned(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock()))
        await store.update(
            stored.key,
            clock(),
            expect_id=stored.id,
            changes=SnapshotChanges(updated=clock(), expires=clock() + 5),
        )
        clock.advance(5)
        assert [m.id for m in await store.delete_expired(clock())] == [stored.id]
        with pytest.raises(SnapshotNotFound):
            await store.get(stored.key, clock() - 5)


class TestRefused:
    async def test_other_id_is_not_found_and_nothing_changes(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock(), name="kept", expires_in=60))
        watch = watch_of(store)
        before = watch.version()
        with pytest.raises(SnapshotNotFound):
            await store.update(
                stored.key,
                clock(),
                expect_id=stored.id + 1000,
                changes=SnapshotChanges(updated=clock(), name="x", expires=None),
            )
        assert (await store.get(stored.key, clock())).meta == stored
        assert watch.version() == before

    async def test_replaced_snapshot_is_left_alone(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        first = await store.insert(new_record(clock(), key="same"))
        await store.delete(first.key, clock(), expect_id=first.id)
        second = await store.insert(new_record(clock(), key="same", name="second"))
        with pytest.raises(SnapshotNotFound):
            await store.update(
                "same", clock(), expect_id=first.id, changes=SnapshotChanges(clock(), name="x")
            )
        assert (await store.get("same", clock())).meta == second

    async def test_expired_or_unknown_is_not_found(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock(), expires_in=5))
        clock.advance(5)
        with pytest.raises(SnapshotNotFound):
            await store.update(
                stored.key,
                clock(),
                expect_id=stored.id,
                changes=SnapshotChanges(clock(), expires=clock() + 100),
            )
        with pytest.raises(SnapshotNotFound):
            await store.update(
                "unknown", clock(), expect_id=stored.id, changes=SnapshotChanges(clock(), name="x")
            )
        # Still expired (the refused update did not revive it), and cleaned as before.
        assert [m.id for m in await store.delete_expired(clock())] == [stored.id]


class TestRaces:
    async def test_update_against_delete_is_one_coherent_outcome(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        for _ in range(5):
            stored = await store.insert(new_record(clock(), expires_in=60))
            updated, deleted = await asyncio.gather(
                store.update(
                    stored.key,
                    clock(),
                    expect_id=stored.id,
                    changes=SnapshotChanges(clock(), name="new", expires=None),
                ),
                store.delete(stored.key, clock(), expect_id=stored.id),
                return_exceptions=True,
            )
            # The delete wins either way (it comes first, or removes the updated snapshot) ...
            assert isinstance(deleted, SnapshotMeta)
            if isinstance(updated, BaseException):
                assert isinstance(updated, SnapshotNotFound)
                assert deleted == stored
            else:
                assert deleted == updated
            # ... and leaves nothing behind, not even an expiry to clean up.
            with pytest.raises(SnapshotNotFound):
                await store.get(stored.key, clock())
            assert await listed(store, clock()) == []
        clock.advance(120)
        assert await store.delete_expired(clock()) == []

    async def test_concurrent_updates_each_apply_whole(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock()))
        results = await asyncio.gather(
            *(
                store.update(
                    stored.key,
                    clock(),
                    expect_id=stored.id,
                    changes=SnapshotChanges(clock(), name=f"n{i}", etag=f'"{i}"'),
                )
                for i in range(8)
            )
        )
        final = (await store.get(stored.key, clock())).meta
        assert final in results
        assert final.etag == f'"{final.name[1:]}"'  # never one update's name with another's etag


async def test_update_moves_the_deletion_watch(store: SnapshotStore, clock: ManualClock) -> None:
    watch = watch_of(store)
    stored = await store.insert(new_record(clock()))
    seen = [watch.version()]
    for changes in (
        SnapshotChanges(clock(), name="a"),
        SnapshotChanges(clock(), password_hash=PHC),
        SnapshotChanges(clock(), expires=clock() + 50),
    ):
        await store.update(stored.key, clock(), expect_id=stored.id, changes=changes)
        seen.append(watch.version())
    assert None not in seen
    assert len(set(seen)) == len(seen)
