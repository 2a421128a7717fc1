"""Through the API on Redis and Redis Cluster: the TTL of every key of a snapshot follows a
PATCH of its expiry (shorter, then never), and a rotation's keys carry it on."""

from __future__ import annotations

import time

from backends.redis.layout import KeySpace
from tests.api.conftest import Client, auth, create
from tests.api.sharing_support import make_sharing, purger, sharing_client
from tests.backends.test_redis import Raw, keys, raw, snapshot_keys, storage_config

__all__ = ["keys", "make_sharing", "purger", "raw", "sharing_client", "storage_config"]


async def assert_ttl(raw: Raw, names: set[str], seconds: float | None) -> None:
    for name in names:
        pttl = await raw.pttl(name)
        if seconds is None:
            assert pttl == -1, name
        else:
            assert abs(pttl - seconds * 1000) < 1500, (name, pttl)


async def test_redis_ttls_follow_patch_and_rotate(
    sharing_client: Client, raw: Raw, keys: KeySpace
) -> None:
    await create(sharing_client, key="ttl-key", deleteKey="ttl-delete", expires=3600)
    names = snapshot_keys(keys, "ttl-key", "ttl-delete")
    await assert_ttl(raw, names, 3600)
    started = time.time()
    response = await sharing_client.patch(
        "/api/snapshots/ttl-key", json={"expires": 100}, headers=auth("editor")
    )
    assert response.status == 200
    await assert_ttl(raw, names, 100 - (time.time() - started))
    response = await sharing_client.post("/api/snapshots/ttl-key/rotate", headers=auth("editor"))
    new_key = (await response.json())["key"]
    moved = snapshot_keys(keys, new_key, "ttl-delete")
    await assert_ttl(raw, moved, 100 - (time.time() - started))
    for name in names - moved:
        assert await raw.exists(name) == 0, name
    response = await sharing_client.patch(
        f"/api/snapshots/{new_key}", json={"expires": 0}, headers=auth("editor")
    )
    assert response.status == 200
    await assert_ttl(raw, moved, None)
