"""Corrupt or foreign data under a backend's keys is logged and treated as absent, never a crash
(issue 9, item 12). Each durable backend is damaged the way its own storage can be: SQLite rows
edited by hand, Redis values written by something else, filesystem files overwritten. The
filesystem backend's record-level damage has its own suite (``test_filesystem_integrity``)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from backends import open_store
from backends.filesystem import FilesystemSettings
from backends.redis.layout import KeySpace
from backends.sqlite import SQLiteSettings
from snapshot_server.config import StorageConfig
from snapshot_server.errors import SnapshotNotFound
from snapshot_server.models import ListQuery, ListScope, SnapshotMeta, hash_secret
from snapshot_server.storage import SnapshotStore
from tests.backends.fs_support import index_file
from tests.stores.redis import redis_settings
from tests.support import ManualClock, assert_unreachable, new_record

Damage = Callable[[StorageConfig, SnapshotMeta], Awaitable[None]]


def sqlite_update(assignment: str) -> Damage:
    async def damage(config: StorageConfig, victim: SnapshotMeta) -> None:
        with closing(sqlite3.connect(SQLiteSettings.read(config.section()).path)) as db, db:
            # ``assignment`` is one of this module's fixed strings, never input.
            sql = f"UPDATE snapshot SET {assignment} WHERE id = ?"  # noqa: S608
            db.execute(sql, (victim.id,))

    return damage


async def redis_client(config: StorageConfig) -> Redis | RedisCluster:
    if redis_settings(config).cluster:
        return RedisCluster.from_url(redis_settings(config).url)
    return Redis.from_url(redis_settings(config).url)


def redis_claims(value: bytes) -> Damage:
    """Both claims of the victim overwritten with ``value`` (its TTL kept away: no PXAT)."""

    async def damage(config: StorageConfig, victim: SnapshotMeta) -> None:
        keys = KeySpace(redis_settings(config).key_prefix)
        client = await redis_client(config)
        try:
            await client.set(keys.claim(victim.key), value)
            await client.set(keys.delete_key(victim.delete_key_hash), value)
        finally:
            await client.aclose()

    return damage


# Damage to a record's metadata: the record is absent to every lookup and delete.
DAMAGES: dict[str, tuple[str, Damage]] = {
    "sqlite-mistyped-org": ("sqlite", sqlite_update("org_id = 'not a number'")),
    "sqlite-bad-hash": ("sqlite", sqlite_update("delete_key_hash = 'not-a-hash'")),
    "sqlite-mistyped-expiry": ("sqlite", sqlite_update("created = x'00'")),
    "redis-not-json": ("redis", redis_claims(b"\xffnot json")),
    "redis-foreign-json": ("redis", redis_claims(b'{"id":"one","key":7}')),
    "redis-json-list": ("redis", redis_claims(b"[1,2,3]")),
    "cluster-not-json": ("redis_cluster", redis_claims(b"hello")),
}


@pytest.fixture(params=list(DAMAGES))
def damage(request: pytest.FixtureRequest) -> tuple[str, Damage]:
    return DAMAGES[request.param]


@pytest.fixture
def storage_config(request: pytest.FixtureRequest, damage: tuple[str, Damage]) -> StorageConfig:
    config: StorageConfig = request.getfixturevalue(f"{damage[0]}_storage_config")
    return config


async def test_damaged_record_is_absent_and_logged(
    store: SnapshotStore,
    storage_config: StorageConfig,
    damage: tuple[str, Damage],
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    victim = await store.insert(new_record(clock(), "victim", "victim-dk", expires_in=60))
    other = await store.insert(new_record(clock(), "other", "other-dk", expires_in=60))
    await damage[1](storage_config, victim)
    caplog.set_level(logging.WARNING, logger="backends")

    await assert_unreachable(store, "victim", "victim-dk", victim.id, clock())
    assert "corrupt" in caplog.text
    # Listings and cleanup carry on with the rest. (Redis lists from index entries, which are
    # whole copies of the metadata: undamaged here, so the victim is still listed there.)
    listed = await store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock())
    assert other.id in [m.id for m in listed]
    assert (await store.get("other", clock())).meta == other
    clock.advance(60)
    removed = await store.delete_expired(clock())
    assert other.id in [m.id for m in removed]
    assert await store.delete_expired(clock()) == []


async def test_a_sqlite_dashboard_that_is_not_a_blob_is_not_served(
    sqlite_storage_config: StorageConfig, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Only the dashboard is damaged: a view is 404 (logged); the metadata is sound, so the
    snapshot is still listed and can be deleted, as in the filesystem backend."""
    store = await open_store(sqlite_storage_config)
    try:
        victim = await store.insert(new_record(clock(), "victim", "victim-dk"))
        await sqlite_update("dashboard = 'not a blob'")(sqlite_storage_config, victim)
        caplog.set_level(logging.WARNING, logger="backends")
        with pytest.raises(SnapshotNotFound):
            await store.get("victim", clock())
        assert "dashboard is not a BLOB" in caplog.text
        assert [
            m.id for m in await store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock())
        ] == [victim.id]
        assert await store.delete_by_delete_key(hash_secret("victim-dk"), clock()) == victim
    finally:
        await store.aclose()


@pytest.mark.parametrize("backend", ["redis", "redis_cluster"])
async def test_foreign_members_of_the_redis_indexes_do_not_block_listing_or_cleanup(
    request: pytest.FixtureRequest,
    backend: str,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config: StorageConfig = request.getfixturevalue(f"{backend}_storage_config")
    store = await open_store(config)
    client = await redis_client(config)
    keys = KeySpace(redis_settings(config).key_prefix)
    try:
        first = await store.insert(new_record(clock(), expires_in=10))
        # Garbage at the head of the expiry index (lowest score) and amid an org's listing.
        await client.zadd(keys.expiry, {b"garbage": 0, b'{"id":2}': 1})
        await client.zadd(keys.org(1), {b"garbage": first.id + 1})
        second = await store.insert(new_record(clock(), expires_in=10))
        caplog.set_level(logging.WARNING, logger="backends")

        listed = await store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock())
        assert [m.id for m in listed] == [first.id, second.id]
        clock.advance(10)
        removed = await store.delete_expired(clock(), limit=2)  # the garbage comes first
        assert removed == []
        assert "corrupt" in caplog.text
        assert await client.zcard(keys.expiry) == 2  # the garbage is gone, the snapshots remain
        assert {m.id for m in await store.delete_expired(clock())} == {first.id, second.id}
        assert await client.zcard(keys.expiry) == 0
    finally:
        await client.aclose()
        await store.aclose()


async def test_a_corrupt_filesystem_index_file_is_absent_and_logged(
    filesystem_storage_config: StorageConfig,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = await open_store(filesystem_storage_config)
    try:
        await store.insert(new_record(clock(), "victim", "victim-dk"))
        root = FilesystemSettings.read(filesystem_storage_config.section()).path
        index_file(Path(root), "victim-dk", b"\x00garbage")
        caplog.set_level(logging.WARNING, logger="backends")
        with pytest.raises(SnapshotNotFound):
            await store.delete_by_delete_key(hash_secret("victim-dk"), clock())
        assert "corrupt delete-key index" in caplog.text
        assert (await store.get("victim", clock())).meta.key == "victim"
    finally:
        await store.aclose()
