"""Where the rate limits count: in the configured Redis when storage is Redis, so that they hold
across workers and hosts (real server processes, as ``serve`` composes them); in each
process's memory otherwise. A limiter storage that cannot be reached is a 503, as storage is."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import time
import uuid
from pathlib import Path

import aiohttp
import limits
import pytest
import redis.asyncio
from aiohttp.test_utils import TestClient
from limits.aio.storage import MemoryStorage, RedisClusterStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from backends import open_store, shared_limits
from backends.redis import RedisSettings
from snapshot_server.abuse.settings import LimitsSettings
from snapshot_server.abuse.storage import close_storage
from snapshot_server.config import StorageConfig
from snapshot_server.errors import StorageUnavailable
from snapshot_server.storage import SnapshotStore
from snapshot_server.webapp.app import create_app
from tests.abuse.conftest import limited_app
from tests.api.conftest import api_config, auth
from tests.processes import ServerProcess
from tests.redis_servers import start_server
from tests.support import (
    ClientFactory,
    ManualClock,
    SnapshotTestServer,
    free_port,
    serve,
    skip_or_fail,
)

LIMITS = '[snapshots]\npublic_mode = true\n[limits]\ncreates_per_address = "3/hour"\n'
BODY = {"dashboard": {"title": "t", "panels": []}}


@pytest.mark.parametrize("backend", ["redis", "redis_cluster"])
async def test_apps_on_one_redis_count_together(
    backend: str,
    request: pytest.FixtureRequest,
    aiohttp_client: ClientFactory,
    clock: ManualClock,
) -> None:
    storage: StorageConfig = request.getfixturevalue(f"{backend}_storage_config")
    apps = [
        limited_app(storage, clock, public_mode=True, creates_per_address="3/hour")
        for _ in range(2)
    ]
    first, second = [await serve(aiohttp_client, app) for app in apps]
    for client in (first, second, first):
        assert (await client.post("/api/snapshots", json=BODY)).status == 200
    for client in (first, second):
        assert (await client.post("/api/snapshots", json=BODY)).status == 429


async def test_deployments_sharing_a_redis_under_other_prefixes_count_apart(
    redis_server_url: str, aiohttp_client: ClientFactory, clock: ManualClock
) -> None:
    clients = []
    for prefix in ("one:", "two:"):
        settings = RedisSettings(url=redis_server_url, key_prefix=f"{uuid.uuid4().hex}:{prefix}")
        storage = StorageConfig.using("redis", settings)
        app = limited_app(storage, clock, creates_per_token="1/hour")
        clients.append(await serve(aiohttp_client, app))
    for client in clients:
        response = await client.post("/api/snapshots", json=BODY, headers=auth("editor"))
        assert response.status == 200
    # The counts live under the deployment's own prefix.
    found = redis.asyncio.Redis.from_url(redis_server_url)
    try:
        keys = await found.keys(f"{settings.key_prefix}limits:*")
    finally:
        await found.aclose()
    assert len(keys) == 1


@pytest.fixture
def redis_toml(redis_server_url: str) -> str:
    return (
        f'[storage]\nbackend = "redis"\n[storage.redis]\nurl = "{redis_server_url}"\n'
        f'key_prefix = "e2e-{uuid.uuid4().hex}:"\n'
    )


async def two_servers(tmp_path: Path, storage_toml: str) -> tuple[ServerProcess, ServerProcess]:
    first = ServerProcess(tmp_path, f"{storage_toml}\n{LIMITS}")
    second = ServerProcess(tmp_path, f"{storage_toml}\n{LIMITS}")
    await first.start()
    try:
        await second.start()
    except BaseException:
        await first.stop()
        raise
    return first, second


async def statuses(bases: list[str]) -> list[int]:
    """The status of an anonymous create through each of ``bases`` in turn."""
    found = []
    async with aiohttp.ClientSession() as http:
        for base in bases:
            async with http.post(f"{base}api/snapshots", json=BODY) as response:
                found.append(response.status)
    return found


async def test_limits_hold_across_servers_sharing_a_redis(tmp_path: Path, redis_toml: str) -> None:
    first, second = await two_servers(tmp_path, redis_toml)
    try:
        a, b = first.base_url, second.base_url
        assert await statuses([a, b, a, b, a]) == [200, 200, 200, 429, 429]
    finally:
        await first.stop()
        await second.stop()


async def test_limits_in_memory_count_per_process(tmp_path: Path) -> None:
    """Without Redis, each process counts alone: N processes allow N times the limit (the
    README says so)."""
    sqlite = f'[storage]\nbackend = "sqlite"\n[storage.sqlite]\npath = "{tmp_path}/s.db"\n'
    first, second = await two_servers(tmp_path, sqlite)
    try:
        a, b = first.base_url, second.base_url
        assert await statuses([a] * 4 + [b] * 4) == [200, 200, 200, 429] * 2
    finally:
        await first.stop()
        await second.stop()


@pytest.mark.parametrize("backend", ["sqlite", "filesystem", "memory"])
def test_other_backends_count_in_memory(backend: str, request: pytest.FixtureRequest) -> None:
    storage: StorageConfig = request.getfixturevalue(f"{backend}_storage_config")
    assert shared_limits(storage) is None


@pytest.mark.parametrize(
    ("url", "cluster", "kind", "uri"),
    [
        ("redis://:pw@10.0.0.1:6379/2", False, RedisStorage, "redis://:pw@10.0.0.1:6379/2"),
        ("rediss://10.0.0.1:6380/0", False, RedisStorage, "rediss://10.0.0.1:6380/0"),
        ("unix:///run/redis.sock?db=1", False, RedisStorage, "unix:///run/redis.sock?db=1"),
        ("redis://10.0.0.1:7000", True, RedisClusterStorage, "redis://10.0.0.1:7000"),
    ],
)
async def test_the_limiter_talks_to_the_configured_redis(
    url: str, cluster: bool, kind: type[RedisStorage], uri: str
) -> None:
    """Made without connecting (so no server is needed here) and closed again."""
    storage = RedisSettings(url=url, cluster=cluster, key_prefix="p:").rate_limit_storage()
    try:
        assert type(storage) is kind
        if not cluster:
            assert storage.bridge.uri == uri
        assert storage.bridge.key_prefix == "p:limits"
    finally:
        if not cluster:
            await close_storage(storage)


async def test_an_unreachable_limiter_storage_is_a_503(
    sqlite_storage_config: StorageConfig, aiohttp_client: ClientFactory, clock: ManualClock
) -> None:
    config = dataclasses.replace(
        api_config(sqlite_storage_config), limits=LimitsSettings(enabled=True)
    )
    nowhere = RedisSettings(url=f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.5)
    app = create_app(config, open_store, clock=clock, limiter_storage=nowhere.rate_limit_storage)
    client = await serve(aiohttp_client, app)
    create = await client.post("/api/snapshots", json=BODY, headers=auth("editor"))
    assert create.status == 503
    assert await create.json() == {"message": "Storage unavailable"}
    miss = await client.get("/api/snapshots/nope")
    assert miss.status == 503
    assert (await client.get("/api/snapshots-delete/nope")).status == 503


async def client_names(url: str) -> list[str]:
    admin = redis.asyncio.Redis.from_url(url)
    try:
        return [c["name"] for c in await admin.client_list()]
    finally:
        await admin.aclose()


async def test_the_limiter_storage_is_closed_on_shutdown(
    sqlite_storage_config: StorageConfig, redis_server_url: str, clock: ManualClock
) -> None:
    name = f"limits-{uuid.uuid4().hex}"

    def make_storage() -> Storage:
        return RedisStorage(f"async+{redis_server_url}", implementation="redispy", client_name=name)

    config = dataclasses.replace(
        api_config(sqlite_storage_config, public_mode=True), limits=LimitsSettings(enabled=True)
    )
    app = create_app(config, open_store, clock=clock, limiter_storage=make_storage)
    client = TestClient(SnapshotTestServer(app))
    await client.start_server()
    try:
        assert (await client.post("/api/snapshots", json=BODY)).status == 200
        assert name in await client_names(redis_server_url)
    finally:
        await client.close()
    assert name not in await client_names(redis_server_url)


async def test_the_limiter_storage_is_closed_when_the_store_cannot_open(
    sqlite_storage_config: StorageConfig, redis_server_url: str, clock: ManualClock
) -> None:
    name = f"limits-{uuid.uuid4().hex}"
    made: list[Storage] = []

    def make_storage() -> Storage:
        uri = f"async+{redis_server_url}"
        made.append(RedisStorage(uri, implementation="redispy", client_name=name))
        return made[-1]

    async def no_store(config: StorageConfig) -> SnapshotStore:
        # The limiter has been used by now (as by a request), so it holds a connection.
        assert await MovingWindowRateLimiter(made[0]).hit(limits.parse("1/hour"), "x")
        assert name in await client_names(redis_server_url)
        raise StorageUnavailable("no store today")

    config = dataclasses.replace(
        api_config(sqlite_storage_config), limits=LimitsSettings(enabled=True)
    )
    client = TestClient(SnapshotTestServer(create_app(
        config, no_store, clock=clock, limiter_storage=make_storage
    )))  # fmt: skip
    with pytest.raises(StorageUnavailable):
        await client.start_server()
    await client.close()
    assert name not in await client_names(redis_server_url)


async def test_closing_a_memory_storage_stops_its_expiry_task() -> None:
    storage = MemoryStorage()
    assert await MovingWindowRateLimiter(storage).hit(limits.parse("1/hour"), "someone")
    # As if a sweep of expired entries were still running when the server stops.
    storage.timer = asyncio.create_task(asyncio.sleep(3600))
    async with asyncio.timeout(5):
        await close_storage(storage)
    assert storage.timer.cancelled()


async def test_the_limiter_redis_client_retries_as_the_store_does(
    tmp_path: Path, sqlite_storage_config: StorageConfig, clock: ManualClock
) -> None:
    """Once at once on a broken connection (Redis restarted: no 503 for it), never after a
    timeout (a hanging Redis is a 503 within about one socket_timeout)."""
    if shutil.which("redis-server") is None:
        skip_or_fail("redis-server not installed")
    server = start_server(tmp_path / "redis")
    try:
        settings = RedisSettings(url=server.url, socket_timeout=1.0, socket_connect_timeout=1.0)
        config = dataclasses.replace(
            api_config(sqlite_storage_config), limits=LimitsSettings(enabled=True)
        )
        app = create_app(
            config, open_store, clock=clock, limiter_storage=settings.rate_limit_storage
        )
        client = TestClient(SnapshotTestServer(app))
        await client.start_server()
        try:
            assert (await client.get("/api/snapshots/nope")).status == 404  # connected
            server.stop()
            server.start()  # the same port: the pooled connection is broken
            assert (await client.get("/api/snapshots/nope")).status == 404
            server.pause()
            started = time.monotonic()
            assert (await client.get("/api/snapshots/nope")).status == 503
            assert time.monotonic() - started < 1.8  # a retry would take two timeouts
        finally:
            server.resume()
            await client.close()
    finally:
        server.stop()
