"""The storage contract (``snapshot_server.storage.SnapshotStore``), run unchanged against every
backend in ``tests/conftest.py``. Time is a ``ManualClock``: expiry is tested without sleeping."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

import orjson
import pytest

from snapshot_server.errors import SnapshotExists, SnapshotNotFound, StorageUnavailable
from snapshot_server.models import ListQuery, ListScope, NewSnapshot, SnapshotMeta, hash_secret
from snapshot_server.storage import SnapshotStore
from tests.support import ManualClock, assert_unreachable, new_record


class TestInsertAndGet:
    async def test_round_trip_keeps_every_field_and_exact_bytes(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        dashboard = orjson.dumps({"title": "ünïcode ✓", "panels": [{"id": 1, "v": 1.5e300}]})
        record = new_record(clock(), name="My snap", expires_in=60, dashboard=dashboard)
        stored = await store.insert(record)
        assert stored.id > 0
        got = await store.get(record.meta.key, clock())
        assert got.meta == stored
        assert got.dashboard == dashboard
        assert got.meta.name == "My snap"
        assert got.meta.expires == clock() + 60
        assert got.meta.created == got.meta.updated == clock()
        assert got.meta.external is False
        assert type(got.meta.id) is int

    async def test_ids_increase_with_creation(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        ids = [(await store.insert(new_record(clock()))).id for _ in range(5)]
        assert ids == sorted(ids)
        assert len(set(ids)) == 5

    async def test_concurrent_inserts_get_distinct_ids(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await asyncio.gather(*(store.insert(new_record(clock())) for _ in range(40)))
        assert len({s.id for s in stored}) == 40

    async def test_unknown_key_is_not_found(self, store: SnapshotStore, clock: ManualClock) -> None:
        with pytest.raises(SnapshotNotFound):
            await store.get("nope", clock())
        with pytest.raises(SnapshotNotFound):
            await store.get_by_delete_key(hash_secret("nope"), clock())

    async def test_taken_key_is_refused_and_nothing_written(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        first = await store.insert(new_record(clock(), key="shared"))
        with pytest.raises(SnapshotExists) as info:
            await store.insert(
                new_record(clock(), key="shared", delete_key="other-delete", name="dup")
            )
        assert info.value.field == "key"
        assert (await store.get("shared", clock())).meta == first
        # The refused record's deleteKey was not claimed either.
        with pytest.raises(SnapshotNotFound):
            await store.get_by_delete_key(hash_secret("other-delete"), clock())

    async def test_taken_delete_key_is_refused_and_nothing_written(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        await store.insert(new_record(clock(), delete_key="del"))
        with pytest.raises(SnapshotExists) as info:
            await store.insert(new_record(clock(), key="fresh", delete_key="del"))
        assert info.value.field == "deleteKey"
        with pytest.raises(SnapshotNotFound):
            await store.get("fresh", clock())

    async def test_concurrent_inserts_of_one_key_admit_exactly_one(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        results = await asyncio.gather(
            *(store.insert(new_record(clock(), key="race")) for _ in range(10)),
            return_exceptions=True,
        )
        assert sum(not isinstance(r, BaseException) for r in results) == 1
        assert all(isinstance(r, SnapshotExists) for r in results if isinstance(r, BaseException))

    async def test_get_by_delete_key(self, store: SnapshotStore, clock: ManualClock) -> None:
        stored = await store.insert(new_record(clock(), delete_key="the-delete-key"))
        meta = await store.get_by_delete_key(hash_secret("the-delete-key"), clock())
        assert meta == stored
        # The view key is not a deleteKey, and a deleteKey is not a view key.
        with pytest.raises(SnapshotNotFound):
            await store.get_by_delete_key(hash_secret(stored.key), clock())
        with pytest.raises(SnapshotNotFound):
            await store.get("the-delete-key", clock())

    async def test_large_dashboard_round_trips(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        dashboard = orjson.dumps({"panels": [{"data": list(range(1000))}] * 400})
        assert len(dashboard) > 1_000_000
        record = new_record(clock(), dashboard=dashboard)
        await store.insert(record)
        assert (await store.get(record.meta.key, clock())).dashboard == dashboard

    async def test_external_record_with_no_dashboard_round_trips(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        # What publishing stores: a pointer to the remote copy, with an empty body.
        record = new_record(clock(), delete_key="ext-delete", expires_in=60, dashboard=b"")
        meta = dataclasses.replace(
            record.meta,
            external=True,
            external_url="https://remote.example/dashboard/snapshot/abc",
            external_delete_url="https://remote.example/api/snapshots-delete/def",
        )
        pointer = NewSnapshot(meta, b"")
        stored = await store.insert(pointer)
        got = await store.get(meta.key, clock())
        assert got.meta == stored == pointer.stored_as(stored.id)
        assert got.dashboard == b""
        assert await store.get_by_delete_key(hash_secret("ext-delete"), clock()) == stored
        scope = ListScope(meta.org_id)
        listed = await store.list_snapshots(scope, ListQuery("", 10, 1), clock())
        assert listed == [stored]
        usage = await store.org_usage(meta.org_id, clock())
        assert (usage.snapshots, usage.bytes) == (1, 0)
        assert await store.delete_by_delete_key(hash_secret("ext-delete"), clock()) == stored
        await assert_unreachable(store, meta.key, "ext-delete", stored.id, clock())


class TestExpiry:
    async def test_expired_the_instant_expires_passes(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        record = new_record(clock(), delete_key="d", expires_in=10)
        stored = await store.insert(record)
        clock.advance(9.999)
        assert (await store.get(record.meta.key, clock())).meta.key == record.meta.key
        assert (await store.get_by_delete_key(hash_secret("d"), clock())).key == record.meta.key
        clock.advance(0.001)
        with pytest.raises(SnapshotNotFound):
            await store.get(record.meta.key, clock())
        with pytest.raises(SnapshotNotFound):
            await store.get_by_delete_key(hash_secret("d"), clock())
        with pytest.raises(SnapshotNotFound):
            await store.delete(record.meta.key, clock(), expect_id=stored.id)
        with pytest.raises(SnapshotNotFound):
            await store.delete_by_delete_key(hash_secret("d"), clock())
        assert await store.list_snapshots(ListScope(1), ListQuery("", 100, 1), clock()) == []
        clock.advance(-0.001)  # the refused deletes left it in place
        assert (await store.get(record.meta.key, clock())).meta.id == stored.id

    async def test_never_expiring_stays(self, store: SnapshotStore, clock: ManualClock) -> None:
        record = new_record(clock())
        await store.insert(record)
        clock.advance(100 * 365 * 86400)
        assert (await store.get(record.meta.key, clock())).meta.expires is None

    async def test_delete_expired_removes_only_expired_and_returns_them(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        short = await store.insert(new_record(clock(), expires_in=5))
        long = await store.insert(new_record(clock(), expires_in=500))
        never = await store.insert(new_record(clock()))
        assert await store.delete_expired(clock()) == []
        clock.advance(5)
        removed = await store.delete_expired(clock())
        assert [m.key for m in removed] == [short.key]
        assert removed[0] == short
        assert await store.delete_expired(clock()) == []
        # Clock back before the expiry: the removed record is gone for good, the others remain.
        clock.advance(-5)
        with pytest.raises(SnapshotNotFound):
            await store.get(short.key, clock())
        assert (await store.get(long.key, clock())).meta.key == long.key
        assert (await store.get(never.key, clock())).meta.key == never.key

    async def test_delete_expired_honours_limit(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        for _ in range(5):
            await store.insert(new_record(clock(), expires_in=1))
        clock.advance(1)
        first = await store.delete_expired(clock(), limit=3)
        rest = await store.delete_expired(clock(), limit=3)
        assert len(first) == 3
        assert len(rest) == 2
        assert {m.id for m in first}.isdisjoint({m.id for m in rest})


class TestDelete:
    async def test_delete_returns_the_record_and_removes_it(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock(), delete_key="dk"))
        assert await store.delete(stored.key, clock(), expect_id=stored.id) == stored
        await assert_unreachable(store, stored.key, "dk", stored.id, clock())
        assert await store.list_snapshots(ListScope(1), ListQuery("", 100, 1), clock()) == []

    async def test_delete_by_delete_key_returns_the_record_and_removes_it(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock(), delete_key="dk"))
        with pytest.raises(SnapshotNotFound):  # the view key is not a deleteKey
            await store.delete_by_delete_key(hash_secret(stored.key), clock())
        assert await store.delete_by_delete_key(hash_secret("dk"), clock()) == stored
        await assert_unreachable(store, stored.key, "dk", stored.id, clock())
        assert await store.list_snapshots(ListScope(1), ListQuery("", 100, 1), clock()) == []

    async def test_delete_of_another_id_deletes_nothing(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock()))
        other = await store.insert(new_record(clock()))
        for wrong in (other.id, stored.id + 1000, 0):
            with pytest.raises(SnapshotNotFound):
                await store.delete(stored.key, clock(), expect_id=wrong)
        assert (await store.get(stored.key, clock())).meta == stored
        assert (await store.get(other.key, clock())).meta == other

    async def test_deleted_keys_can_be_used_again(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        first = await store.insert(new_record(clock(), key="k", delete_key="dk"))
        await store.delete("k", clock(), expect_id=first.id)
        second = await store.insert(new_record(clock(), key="k", delete_key="dk"))
        assert second.id > first.id
        await store.delete_by_delete_key(hash_secret("dk"), clock())
        third = await store.insert(new_record(clock(), key="k", delete_key="dk"))
        assert third.id > second.id

    async def test_a_stale_delete_never_removes_a_newer_snapshot_of_the_same_key(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        """Issue 9, item 11, as a fixed interleaving: A is read, A is deleted, the same
        client-chosen key is created again by B, then the deletes meant for A arrive."""
        a = await store.insert(new_record(clock(), key="reused", delete_key="a-dk", user_id=1))
        read = (await store.get("reused", clock())).meta  # what a permission check saw
        assert await store.delete_by_delete_key(hash_secret("a-dk"), clock()) == a
        b = await store.insert(new_record(clock(), key="reused", delete_key="b-dk", user_id=2))

        with pytest.raises(SnapshotNotFound):
            await store.delete("reused", clock(), expect_id=read.id)
        with pytest.raises(SnapshotNotFound):
            await store.delete_by_delete_key(hash_secret("a-dk"), clock())
        assert (await store.get("reused", clock())).meta == b
        assert await store.get_by_delete_key(hash_secret("b-dk"), clock()) == b
        assert [
            m.id for m in await store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock())
        ] == [b.id]

    async def test_concurrent_deletes_of_one_key_succeed_once(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        stored = await store.insert(new_record(clock(), delete_key="dk"))
        results = await asyncio.gather(
            *(store.delete(stored.key, clock(), expect_id=stored.id) for _ in range(4)),
            *(store.delete_by_delete_key(hash_secret("dk"), clock()) for _ in range(4)),
            return_exceptions=True,
        )
        assert [r for r in results if not isinstance(r, BaseException)] == [stored]
        assert all(isinstance(r, SnapshotNotFound) for r in results if isinstance(r, BaseException))

    async def test_racing_deletes_and_a_re_create_never_remove_the_newcomer(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        """The same race with real concurrency: stale deletes of A (by deleteKey and by id)
        run alongside the re-creation of A's key by B; B must survive every round."""
        for round_no in range(15):
            key = f"race-{round_no}"
            a = await store.insert(new_record(clock(), key=key, delete_key=f"a-{round_no}"))

            async def re_create(key: str = key, round_no: int = round_no) -> int:
                while True:
                    try:
                        record = new_record(clock(), key=key, delete_key=f"b-{round_no}")
                        return (await store.insert(record)).id
                    except SnapshotExists:
                        await asyncio.sleep(0)

            results = await asyncio.gather(
                store.delete_by_delete_key(hash_secret(f"a-{round_no}"), clock()),
                store.delete_by_delete_key(hash_secret(f"a-{round_no}"), clock()),
                store.delete(key, clock(), expect_id=a.id),
                re_create(),
                store.delete_by_delete_key(hash_secret(f"a-{round_no}"), clock()),
                store.delete(key, clock(), expect_id=a.id),
                return_exceptions=True,
            )
            b_id = results[3]
            assert isinstance(b_id, int), results
            deleted = [r for r in results if isinstance(r, SnapshotMeta)]
            assert [m.id for m in deleted] == [a.id], results
            assert (await store.get(key, clock())).meta.id == b_id

    async def test_delete_leaves_others(self, store: SnapshotStore, clock: ManualClock) -> None:
        a = await store.insert(new_record(clock()))
        b = await store.insert(new_record(clock()))
        await store.delete(a.key, clock(), expect_id=a.id)
        assert (await store.get(b.key, clock())).meta.id == b.id
        assert [
            m.id for m in await store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock())
        ] == [b.id]


class TestList:
    async def test_scoped_to_org_and_user_in_id_order(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        a = await store.insert(new_record(clock(), org_id=1, user_id=1))
        b = await store.insert(new_record(clock(), org_id=1, user_id=2))
        c = await store.insert(new_record(clock(), org_id=2, user_id=1))
        d = await store.insert(new_record(clock(), org_id=1, user_id=1))

        async def ids(org_id: int, user_id: int | None) -> list[int]:
            return [
                m.id
                for m in await store.list_snapshots(
                    ListScope(org_id, user_id), ListQuery("", 100, 1), clock()
                )
            ]

        assert await ids(1, None) == [a.id, b.id, d.id]
        assert await ids(1, 1) == [a.id, d.id]
        assert await ids(2, None) == [c.id]
        assert await store.list_snapshots(ListScope(3), ListQuery("", 100, 1), clock()) == []
        assert (await store.list_snapshots(ListScope(1, 2), ListQuery("", 100, 1), clock()))[0] == b

    async def test_query_is_a_case_insensitive_literal_substring(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        names = ["CPU usage", "cpu load", "Memory", "100% disk", "a_b", "axb", "STRASSE", "Straße"]
        ids = {n: (await store.insert(new_record(clock(), name=n))).id for n in names}

        async def found(query: str) -> list[str]:
            return [
                m.name
                for m in await store.list_snapshots(ListScope(1), ListQuery(query, 100, 1), clock())
            ]

        assert await found("CPU") == ["CPU usage", "cpu load"]
        assert await found("pu l") == ["cpu load"]
        assert await found("%") == ["100% disk"]
        assert await found("_") == ["a_b"]
        assert await found("straße") == ["STRASSE", "Straße"]  # casefold: ß == ss
        assert await found("nothing") == []
        assert len(await found("")) == len(ids)

    async def test_limit_and_page(self, store: SnapshotStore, clock: ManualClock) -> None:
        ids = [(await store.insert(new_record(clock()))).id for _ in range(7)]

        async def page(limit: int, number: int) -> list[int]:
            return [
                m.id
                for m in await store.list_snapshots(
                    ListScope(1), ListQuery("", limit, number), clock()
                )
            ]

        assert await page(3, 1) == ids[0:3]
        assert await page(3, 2) == ids[3:6]
        assert await page(3, 3) == ids[6:7]
        assert await page(3, 4) == []
        assert await page(5000, 1) == ids

    async def test_list_never_carries_the_dashboard(
        self, store: SnapshotStore, clock: ManualClock
    ) -> None:
        await store.insert(new_record(clock()))
        (item,) = await store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock())
        assert not hasattr(item, "dashboard")


async def test_ping_returns_while_the_store_answers_and_raises_once_it_cannot(
    store: SnapshotStore,
) -> None:
    """Both halves of ``ping``'s contract. "Cannot answer" is a closed store here; each
    backend's own suite also cuts it off for real (a killed Redis, a removed root)."""
    await store.ping()
    await store.aclose()
    with pytest.raises(StorageUnavailable):
        await store.ping()


async def test_every_method_after_aclose_is_storage_unavailable(
    store: SnapshotStore, clock: ManualClock
) -> None:
    stored = await store.insert(new_record(clock(), delete_key="dk"))
    await store.aclose()
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "insert": lambda: store.insert(new_record(clock())),
        "get": lambda: store.get(stored.key, clock()),
        "get_by_delete_key": lambda: store.get_by_delete_key(hash_secret("dk"), clock()),
        "list_snapshots": lambda: store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock()),
        "delete": lambda: store.delete(stored.key, clock(), expect_id=stored.id),
        "delete_by_delete_key": lambda: store.delete_by_delete_key(hash_secret("dk"), clock()),
        "delete_expired": lambda: store.delete_expired(clock() + 10**9),
        "org_usage": lambda: store.org_usage(1, clock()),
        "ping": store.ping,
    }
    answered = []
    for name, call in calls.items():
        try:
            await call()
        except StorageUnavailable:
            continue
        answered.append(name)
    assert answered == []
    await store.aclose()  # a second close is harmless (the fixture closes again, too)
