"""The Redis backend under a failing server: a dedicated ``redis-server`` per test (never the
session's) is killed, frozen and restarted under an open store."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends.redis import RedisStore
from snapshot_server.config import StorageConfig
from snapshot_server.errors import SnapshotNotFound, StorageUnavailable
from snapshot_server.models import ListQuery, ListScope, hash_secret
from snapshot_server.storage import SnapshotStore
from tests.redis_servers import RedisServer, start_server
from tests.stores.redis import redis_config
from tests.support import ManualClock, new_record, skip_or_fail

SOCKET_TIMEOUT = 0.5
MARGIN = 1.0  # scheduling slack on a loaded CI machine


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        skip_or_fail("no redis-server binary for the fault tests")
    started = start_server(tmp_path)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def storage_config(server: RedisServer) -> StorageConfig:
    return redis_config(server.url, socket_timeout=SOCKET_TIMEOUT)


async def assert_unavailable_promptly(store: SnapshotStore, clock: ManualClock) -> None:
    """Every kind of operation raises ``StorageUnavailable`` within one socket timeout (plus
    slack). They run concurrently, so a frozen server costs one timeout, not seven."""
    operations = {
        "ping": store.ping(),
        "insert": store.insert(new_record(clock())),
        "get": store.get("k", clock()),
        "list": store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock()),
        "delete": store.delete("k", clock(), expect_id=1),
        "delete_by_delete_key": store.delete_by_delete_key(hash_secret("k"), clock()),
        "delete_expired": store.delete_expired(clock()),
    }
    started = time.monotonic()
    async with asyncio.timeout(SOCKET_TIMEOUT + MARGIN):
        results = await asyncio.gather(*operations.values(), return_exceptions=True)
    assert time.monotonic() - started < SOCKET_TIMEOUT + MARGIN
    for name, result in zip(operations, results, strict=True):
        assert isinstance(result, StorageUnavailable), (name, result)


async def test_a_killed_server_fails_fast_and_a_restarted_one_is_used_again(
    server: RedisServer, store: SnapshotStore, clock: ManualClock
) -> None:
    before = await store.insert(new_record(clock()))
    server.stop()
    await assert_unavailable_promptly(store, clock)
    # Same port, same store object: pooled connections to the dead process are replaced.
    server.start()
    await store.ping()
    after = await store.insert(new_record(clock()))
    assert after.id > 0
    assert (await store.get(after.key, clock())).meta.id == after.id
    with pytest.raises(SnapshotNotFound):  # the store caches nothing: the new server is empty
        await store.get(before.key, clock())


async def test_a_frozen_server_times_out_and_recovers_when_it_thaws(
    server: RedisServer, store: SnapshotStore, clock: ManualClock
) -> None:
    stored = await store.insert(new_record(clock()))
    server.pause()
    try:
        await assert_unavailable_promptly(store, clock)
    finally:
        server.resume()
    assert (await store.get(stored.key, clock())).meta.id == stored.id


async def test_open_fails_promptly_when_nothing_listens(
    server: RedisServer, storage_config: StorageConfig
) -> None:
    server.stop()
    async with asyncio.timeout(SOCKET_TIMEOUT + MARGIN):
        with pytest.raises(StorageUnavailable, match="cannot connect"):
            await RedisStore.open(storage_config)


async def test_unreachable_redis_error_never_shows_the_password() -> None:
    storage_config = redis_config(
        "redis://:hunter2secret@127.0.0.1:1/0", socket_timeout=SOCKET_TIMEOUT
    )
    with pytest.raises(StorageUnavailable) as info:
        await RedisStore.open(storage_config)
    assert "hunter2secret" not in info.value.message
    assert "redis://:***@127.0.0.1:1/0" in info.value.message
