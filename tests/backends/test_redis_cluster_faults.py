"""The Redis backend on a Redis Cluster that loses a node: a dedicated 3-node cluster (never
the session's), started with ``cluster-require-full-coverage no`` so the surviving nodes keep
serving their own slots while one is down."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster

from backends.redis.layout import KeySpace
from snapshot_server.config import StorageConfig
from snapshot_server.errors import SnapshotNotFound, StorageUnavailable
from snapshot_server.models import ListQuery, ListScope, hash_secret
from snapshot_server.storage import SnapshotStore
from tests.redis_servers import RedisServer, start_cluster, wait_cluster_ok
from tests.stores.redis import redis_config, redis_settings
from tests.support import ManualClock, new_record, skip_or_fail

SOCKET_TIMEOUT = 0.5
# The cluster client retries twice (backoff <= 0.5 s) and re-reads the topology in between.
FAIL_WITHIN = 3 * SOCKET_TIMEOUT + 2.0
RECOVER_WITHIN = 15.0  # the restarted node must rejoin and be marked up by its peers


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[RedisServer]]:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        skip_or_fail("no redis-server/redis-cli binaries for the cluster fault test")
    started = start_cluster(tmp_path, "--cluster-require-full-coverage", "no")
    try:
        yield started
    finally:
        for node in started:
            node.stop()


@pytest.fixture
def storage_config(nodes: list[RedisServer]) -> StorageConfig:
    url = f"redis://127.0.0.1:{nodes[0].port}"
    return redis_config(url, cluster=True, socket_timeout=SOCKET_TIMEOUT)


@pytest.fixture
async def raw(storage_config: StorageConfig) -> AsyncIterator[RedisCluster]:
    client = RedisCluster.from_url(redis_settings(storage_config).url)
    try:
        yield client
    finally:
        await client.aclose()


async def node_of(storage_config: StorageConfig, nodes: list[RedisServer], key: str) -> RedisServer:
    """The node that serves ``key``'s slot."""
    client = RedisCluster.from_url(redis_settings(storage_config).url)
    try:
        await client.initialize()
        owner = client.get_node_from_key(key)
    finally:
        await client.aclose()
    assert owner is not None
    return next(n for n in nodes if n.port == int(owner.port))


async def fails_promptly(operation: Awaitable[object]) -> None:
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        async with asyncio.timeout(FAIL_WITHIN):
            await operation
    assert time.monotonic() - started < FAIL_WITHIN


async def test_losing_a_dashboard_node_keeps_metadata_consistent(
    store: SnapshotStore,
    storage_config: StorageConfig,
    nodes: list[RedisServer],
    clock: ManualClock,
    raw: RedisCluster,
) -> None:
    keys = KeySpace(redis_settings(storage_config).key_prefix)
    meta_node = await node_of(storage_config, nodes, keys.counter)
    # A snapshot key whose dashboard lives on another node than the metadata.
    for i in range(1000):
        key = f"k{i}"
        body_node = await node_of(storage_config, nodes, keys.body(key))
        if body_node is not meta_node:
            break
    victim = await store.insert(new_record(clock(), key=key, delete_key="old-dk"))
    body_node.stop()

    # Delete commits on the metadata node; the unreachable body waits in the trash.
    started = time.monotonic()
    assert await store.delete(key, clock(), expect_id=victim.id) == victim
    assert time.monotonic() - started < FAIL_WITHIN
    assert await raw.smembers(keys.trash) == {b"%d:%s" % (victim.id, key.encode())}

    # A create whose body cannot be written is rolled back: nothing half-created is visible.
    await fails_promptly(store.insert(new_record(clock(), key=key, delete_key="dk")))
    assert await store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock()) == []
    with pytest.raises(SnapshotNotFound):
        await store.get_by_delete_key(hash_secret("dk"), clock())

    body_node.start()
    wait_cluster_ok(nodes, within=RECOVER_WITHIN)
    # The cleanup job empties the trash once the node is back: nothing is left behind.
    assert await store.delete_expired(clock()) == []
    # (and the receipts of the two deletes, kept for a re-run after a lost reply, expiring)
    receipts = {keys.receipt(victim.id).encode(), keys.receipt(victim.id + 1).encode()}
    left = {k async for k in raw.scan_iter(match=f"{keys.prefix}*")}
    assert left == {keys.counter.encode(), *receipts}
    for name in receipts:
        assert await raw.pttl(name) > 0
    stored = await store.insert(
        new_record(clock(), key=key, delete_key="dk")
    )  # the key is free again
    assert (await store.get(key, clock())).meta.id == stored.id


async def test_losing_the_metadata_node_fails_fast_and_the_same_store_recovers(
    store: SnapshotStore,
    storage_config: StorageConfig,
    nodes: list[RedisServer],
    clock: ManualClock,
) -> None:
    meta_node = await node_of(
        storage_config, nodes, KeySpace(redis_settings(storage_config).key_prefix).counter
    )
    meta_node.stop()
    await fails_promptly(store.ping())
    await fails_promptly(store.insert(new_record(clock())))
    await fails_promptly(store.get("k", clock()))
    await fails_promptly(store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock()))

    meta_node.start()
    wait_cluster_ok(nodes, within=RECOVER_WITHIN)
    stored = await store.insert(new_record(clock()))
    assert (await store.get(stored.key, clock())).meta.id == stored.id
