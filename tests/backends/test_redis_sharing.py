"""Redis-specific behaviour of update and rotate the contract suite cannot see: every TTL of a
snapshot follows a new expiry, the body moves with a rotate, aliases carry their own TTL and
leave nothing behind, and metadata written before ``password_hash`` existed still reads. Each
test runs against a plain server and a 3-node cluster, looking at the raw keys."""

from __future__ import annotations

import time

import orjson
import pytest

from backends.redis.layout import KeySpace, encode_full, encode_meta
from snapshot_server.errors import SnapshotNotFound
from snapshot_server.models import ListQuery, ListScope, SnapshotChanges, SnapshotMeta, hash_secret
from snapshot_server.storage import SnapshotStore
from tests.backends.test_redis import Raw, all_keys, keys, raw, snapshot_keys, storage_config
from tests.support import ManualClock, new_record

__all__ = ["keys", "raw", "storage_config"]  # the fixtures of test_redis, for every test here


async def assert_ttl(raw: Raw, names: set[str], until: float | None) -> None:
    """Each of ``names`` exists and ends at ``until`` (within 1 s), or never (``None``)."""
    for name in names:
        pttl = await raw.pttl(name)
        if until is None:
            assert pttl == -1, name
        else:
            assert abs(pttl - (until - time.time()) * 1000) < 1000, (name, pttl)


async def change_expiry(
    store: SnapshotStore, meta: SnapshotMeta, now: float, expires: float | None
) -> SnapshotMeta:
    changes = SnapshotChanges(now, expires=expires)
    return await store.update(meta.key, now, expect_id=meta.id, changes=changes)


async def test_update_moves_every_ttl_and_leaves_the_indexes_without(
    store: SnapshotStore, raw: Raw, keys: KeySpace, clock: ManualClock
) -> None:
    stored = await store.insert(new_record(clock(), "t1", "t1-dk", expires_in=3600))
    await store.rotate("t1", "t2", clock(), expect_id=stored.id, updated=clock(), grace_until=None)
    moved = await store.rotate(
        "t2", "t3", clock(), expect_id=stored.id, updated=clock(), grace_until=clock() + 7200
    )
    per_snapshot = snapshot_keys(keys, "t3", "t1-dk")
    alias, alias_set = keys.alias("t2"), keys.aliases(stored.id)
    assert per_snapshot | {alias, alias_set} <= await all_keys(raw, keys)
    # The alias lives as long as the snapshot (its grace runs past the expiry).
    await assert_ttl(raw, per_snapshot | {alias, alias_set}, clock() + 3600)

    await change_expiry(store, moved, clock(), clock() + 86400)  # longer than the grace now
    await assert_ttl(raw, per_snapshot | {alias_set}, clock() + 86400)
    await assert_ttl(raw, {alias}, clock() + 7200)

    await change_expiry(store, moved, clock(), clock() + 60)
    await assert_ttl(raw, per_snapshot | {alias, alias_set}, clock() + 60)

    await change_expiry(store, moved, clock(), None)
    await assert_ttl(raw, per_snapshot | {alias_set}, None)
    await assert_ttl(raw, {alias}, clock() + 7200)  # the grace still ends
    everything = await all_keys(raw, keys)
    for name in everything - per_snapshot - {alias, alias_set}:
        assert await raw.pttl(name) == -1, name  # indexes: pruned by the store, never by TTL


async def test_expiry_shortened_to_now_drops_the_keys_at_once(
    store: SnapshotStore, raw: Raw, keys: KeySpace, clock: ManualClock
) -> None:
    stored = await store.insert(new_record(clock(), "gone", "gone-dk"))
    await change_expiry(store, stored, clock(), time.time() - 1)
    found = await all_keys(raw, keys)
    assert not snapshot_keys(keys, "gone", "gone-dk") & found  # Redis dropped them
    removed = await store.delete_expired(time.time())
    assert [m.id for m in removed] == [stored.id]
    assert await all_keys(raw, keys) == {keys.counter}


async def test_rotate_moves_the_body_and_a_delete_leaves_no_alias(
    store: SnapshotStore, raw: Raw, keys: KeySpace, clock: ManualClock
) -> None:
    stored = await store.insert(new_record(clock(), "b1", "b1-dk", dashboard=b'{"b":1}'))
    await store.rotate(
        "b1", "b2", clock(), expect_id=stored.id, updated=clock(), grace_until=clock() + 600
    )
    found = await all_keys(raw, keys)
    assert keys.body("b1") not in found
    assert await raw.hget(keys.body("b2"), "body") == b'{"b":1}'
    await assert_ttl(raw, {keys.alias("b1")}, clock() + 600)
    await assert_ttl(raw, {keys.aliases(stored.id)}, None)
    await store.delete_by_delete_key(hash_secret("b1-dk"), clock())
    assert await all_keys(raw, keys) == {keys.counter, keys.receipt(stored.id)}


async def test_cleanup_leaves_no_alias(
    store: SnapshotStore, raw: Raw, keys: KeySpace, clock: ManualClock
) -> None:
    stored = await store.insert(new_record(clock(), "c1", expires_in=30))
    await store.rotate(
        "c1", "c2", clock(), expect_id=stored.id, updated=clock(), grace_until=clock() + 20
    )
    clock.advance(30)
    assert [m.id for m in await store.delete_expired(clock())] == [stored.id]
    assert await all_keys(raw, keys) == {keys.counter}


async def test_metadata_without_password_hash_reads_as_none(
    store: SnapshotStore, raw: Raw, keys: KeySpace, clock: ManualClock
) -> None:
    stored = await store.insert(new_record(clock(), "old", "old-dk", expires_in=600))
    # The claims as a version before password_hash wrote them: every other field.
    fields = stored.fields()
    del fields["id"], fields["password_hash"]
    old_json = encode_meta(stored.id, orjson.dumps(fields)[1:])
    for name in (keys.claim("old"), keys.delete_key(hash_secret("old-dk"))):
        await raw.set(name, old_json, keepttl=True)
    stored_json = await raw.zrange(keys.org(1), 0, -1)
    for index, score in ((keys.org(1), stored.id), (keys.user(1, 1), stored.id)):
        await raw.zrem(index, *stored_json)
        await raw.zadd(index, {old_json: score})
    await raw.zrem(keys.expiry, *stored_json)
    await raw.zadd(keys.expiry, {old_json: stored.expires or 0})
    got = await store.get("old", clock())
    assert got.meta == stored
    assert got.meta.password_hash == ""
    # It can be updated (its claim compared as stored), and then carries the field.
    new = await store.update(
        "old", clock(), expect_id=stored.id, changes=SnapshotChanges(clock(), password_hash="h")
    )
    assert (await store.get("old", clock())).meta == new
    assert b'"password_hash":"h"' in (await raw.get(keys.claim("old")) or b"")
    # Every index member was replaced, none left in the old form.
    listed = await store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock())
    assert listed == [new]
    for index in (keys.org(1), keys.user(1, 1), keys.expiry):
        assert await raw.zrange(index, 0, -1) == [encode_full(new)]


async def test_a_corrupt_alias_is_absent(
    store: SnapshotStore, raw: Raw, keys: KeySpace, clock: ManualClock
) -> None:
    await raw.set(keys.alias("junk"), b"not an alias")
    with pytest.raises(SnapshotNotFound):
        await store.get("junk", clock())
