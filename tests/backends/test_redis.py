"""Redis-specific behaviour the contract suite cannot see: native TTLs, the key layout, nothing
left behind, records Redis already reclaimed. Each test runs against a plain server and a
3-node cluster, looking at the raw keys with a second client."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from backends.redis import RedisSettings, RedisStore
from backends.redis.layout import KeySpace, encode_meta, meta_tail
from backends.redis.scripts import RECEIPT_MS
from snapshot_server.config import StorageConfig
from snapshot_server.errors import ConfigError, SnapshotNotFound
from snapshot_server.models import ListQuery, ListScope, hash_secret
from snapshot_server.storage import SnapshotStore
from tests.stores.redis import redis_settings
from tests.support import ManualClock, new_record

Raw = Redis | RedisCluster


@pytest.fixture(params=["redis", "redis_cluster"])
def storage_config(request: pytest.FixtureRequest) -> StorageConfig:
    storage_config: StorageConfig = request.getfixturevalue(f"{request.param}_storage_config")
    return storage_config


@pytest.fixture
async def raw(storage_config: StorageConfig) -> AsyncIterator[Raw]:
    client: Raw
    if redis_settings(storage_config).cluster:
        client = RedisCluster.from_url(redis_settings(storage_config).url)
    else:
        client = Redis.from_url(redis_settings(storage_config).url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def keys(storage_config: StorageConfig) -> KeySpace:
    return KeySpace(redis_settings(storage_config).key_prefix)


async def all_keys(raw: Raw, keys: KeySpace) -> set[str]:
    """Every key under the store's prefix, on every node."""
    return {k.decode() async for k in raw.scan_iter(match=f"{keys.prefix}*", count=1000)}


def snapshot_keys(keys: KeySpace, key: str, delete_key: str) -> set[str]:
    return {keys.claim(key), keys.delete_key(hash_secret(delete_key)), keys.body(key)}


async def test_every_key_of_an_expiring_snapshot_has_a_ttl_ending_at_expiry(
    store: SnapshotStore, raw: Raw, keys: KeySpace, clock: ManualClock
) -> None:
    record = new_record(clock(), key="ttl", delete_key="ttl-dk", expires_in=3600)
    await store.insert(record)
    assert record.meta.expires is not None
    found = await all_keys(raw, keys)
    per_snapshot = snapshot_keys(keys, "ttl", "ttl-dk")
    assert per_snapshot <= found
    for name in per_snapshot:
        expected_ms = (record.meta.expires - time.time()) * 1000
        assert abs(await raw.pttl(name) - expected_ms) < 1000, name
    # Indexes and the counter are pruned by the store, never by TTL.
    for name in found - per_snapshot:
        assert await raw.pttl(name) == -1, name


async def test_a_never_expiring_snapshot_has_no_ttl(
    store: SnapshotStore, raw: Raw, keys: KeySpace, clock: ManualClock
) -> None:
    await store.insert(new_record(clock(), key="forever", delete_key="forever-dk"))
    found = await all_keys(raw, keys)
    assert snapshot_keys(keys, "forever", "forever-dk") <= found
    for name in found:
        assert await raw.pttl(name) == -1, name


async def test_delete_leaves_nothing_but_the_id_counter_and_expiring_receipts(
    store: SnapshotStore, raw: Raw, keys: KeySpace, clock: ManualClock
) -> None:
    ids = []
    for user_id, expires_in in ((1, None), (2, 60.0)):
        stored = await store.insert(new_record(clock(), user_id=user_id, expires_in=expires_in))
        await store.delete(stored.key, clock(), expect_id=stored.id)
        ids.append(stored.id)
    receipts = {keys.receipt(i) for i in ids}  # for a re-run after a lost reply
    assert await all_keys(raw, keys) == {keys.counter, *receipts}
    for name in receipts:
        assert 0 < await raw.pttl(name) <= RECEIPT_MS


async def test_delete_expired_leaves_nothing_but_the_id_counter(
    store: SnapshotStore, raw: Raw, keys: KeySpace, clock: ManualClock
) -> None:
    for _ in range(3):
        await store.insert(new_record(clock(), expires_in=30))
    clock.advance(30)
    assert len(await store.delete_expired(clock())) == 3
    assert await all_keys(raw, keys) == {keys.counter}


async def test_stored_metadata_is_what_python_encodes(
    store: SnapshotStore, raw: Raw, keys: KeySpace, clock: ManualClock
) -> None:
    # The scripts compare stored metadata byte for byte, so Lua and Python must build it alike.
    record = new_record(clock(), name='naïve "quoted" ✓', expires_in=99.5)
    stored = await store.insert(record)
    assert await raw.get(keys.claim(record.meta.key)) == encode_meta(
        stored.id, meta_tail(record.meta)
    )


async def test_delete_expired_returns_records_redis_already_reclaimed(
    store: SnapshotStore, raw: Raw, keys: KeySpace
) -> None:
    # Expired 100 s ago by the real clock: Redis drops the keys at once (PXAT in the past).
    clock = ManualClock(start=time.time() - 200)
    stored = await store.insert(
        new_record(clock(), key="gone", delete_key="gone-dk", expires_in=100)
    )
    assert not snapshot_keys(keys, "gone", "gone-dk") & await all_keys(raw, keys)
    with pytest.raises(SnapshotNotFound):
        await store.get("gone", clock())
    clock.advance(100)
    assert await store.delete_expired(clock()) == [stored]
    assert await all_keys(raw, keys) == {keys.counter}


async def test_a_reused_key_is_not_hurt_by_cleanup_of_its_predecessor(
    store: SnapshotStore, clock: ManualClock
) -> None:
    old_clock = ManualClock(start=time.time() - 200)
    await store.insert(
        new_record(old_clock(), key="reused", delete_key="reused-dk", expires_in=100)
    )
    fresh = await store.insert(new_record(clock(), key="reused", delete_key="reused-dk"))
    removed = await store.delete_expired(clock())
    assert [m.key for m in removed] == ["reused"]
    assert removed[0].id != fresh.id
    assert (await store.get("reused", clock())).meta == fresh
    assert await store.get_by_delete_key(hash_secret("reused-dk"), clock()) == fresh
    assert [
        m.id for m in await store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock())
    ] == [fresh.id]


async def test_list_pages_across_index_batches(store: SnapshotStore, clock: ManualClock) -> None:
    ids = [(await store.insert(new_record(clock(), name=f"n{i}"))).id for i in range(1203)]
    listed = await store.list_snapshots(ListScope(1), ListQuery("", 5000, 1), clock())
    assert [m.id for m in listed] == ids
    page = await store.list_snapshots(ListScope(1), ListQuery("n1", 100, 2), clock())
    matching = [i for i, n in zip(ids, range(1203), strict=True) if "n1" in f"n{n}"]
    assert [m.id for m in page] == matching[100:200]


async def test_a_hash_tag_brace_in_the_prefix_is_refused(storage_config: StorageConfig) -> None:
    bad = StorageConfig.using(
        "redis", RedisSettings(url=redis_settings(storage_config).url, key_prefix="a{b}")
    )
    with pytest.raises(ConfigError, match="key_prefix"):
        await RedisStore.open(bad)


async def test_a_failed_cluster_body_delete_is_logged_and_stays_queued(
    redis_cluster_storage_config: StorageConfig,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = await RedisStore.open(redis_cluster_storage_config)
    raw = RedisCluster.from_url(redis_settings(redis_cluster_storage_config).url)
    keys = KeySpace(redis_settings(redis_cluster_storage_config).key_prefix)
    try:
        stored = await store.insert(new_record(clock(), key="body"))
        await raw.set(keys.body("body"), b"not a hash")  # the body delete script now fails
        caplog.set_level(logging.WARNING, logger="backends")
        assert await store.delete("body", clock(), expect_id=stored.id) == stored
        assert "could not delete 1 of 1 dashboard bodies" in caplog.text
        assert "WRONGTYPE" in caplog.text
        assert await raw.smembers(keys.trash) == {b"%d:body" % stored.id}
    finally:
        await raw.aclose()
        await store.aclose()
