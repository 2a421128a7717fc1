"""shared-options, health, the enabled switch, and the error paths every /api route shares."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from backends import open_store
from backends.memory import MemoryStore
from backends.sqlite import SQLiteSettings
from snapshot_server.cleanup import run_cleanup_job
from snapshot_server.config import StorageConfig
from snapshot_server.models import Snapshot, SnapshotMeta
from snapshot_server.storage import SnapshotStore
from snapshot_server.webapp.app import create_app
from snapshot_server.webapp.appkeys import SERVICE, STORE
from tests.api.conftest import Client, MakeClient, api_config, auth, create
from tests.support import ClientFactory, ManualClock, serve

DISABLED = {"message": "Dashboard Snapshots are disabled"}


async def test_shared_options(client: Client) -> None:
    response = await client.get("/api/snapshot/shared-options", headers=auth("viewer"))
    assert response.status == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert await response.json() == {
        "snapshotEnabled": True,
        "externalSnapshotURL": "",
        "externalSnapshotName": "Publish to snapshot server",
        "externalEnabled": False,
    }


async def test_shared_options_needs_a_valid_token(client: Client) -> None:
    assert (await client.get("/api/snapshot/shared-options")).status == 401
    response = await client.get(
        "/api/snapshot/shared-options", headers={"Authorization": "Bearer bad"}
    )
    assert response.status == 401


async def test_health(client: Client) -> None:
    response = await client.get("/api/health", headers={"Authorization": "Bearer ignored"})
    assert response.status == 200
    body = await response.json()
    assert body["database"] == "ok"
    assert isinstance(body["version"], str)


async def test_disabled_closes_every_snapshot_route(make_client: MakeClient) -> None:
    client = await make_client(enabled=False)
    calls = [
        client.post("/api/snapshots", json={"dashboard": {}}, headers=auth("editor")),
        client.get("/api/snapshots/somekey"),
        client.delete("/api/snapshots/somekey", headers=auth("admin")),
        client.get("/api/snapshots-delete/somekey"),
        client.get("/api/dashboard/snapshots", headers=auth("admin")),
    ]
    for call in calls:
        response = await call
        assert response.status == 403
        assert await response.json() == DISABLED
    options = await client.get("/api/snapshot/shared-options", headers=auth("viewer"))
    assert (await options.json())["snapshotEnabled"] is False
    assert (await client.get("/api/health")).status == 200


async def test_unknown_api_route_is_json_404(client: Client) -> None:
    response = await client.get("/api/nothing-here", headers=auth("admin"))
    assert response.status == 404
    assert response.content_type == "application/json"
    assert await response.json() == {"message": "Not found"}


async def test_wrong_method_is_json_405(client: Client) -> None:
    response = await client.put("/api/snapshots/abc", headers=auth("admin"))
    assert response.status == 405
    assert await response.json() == {"message": "Method not allowed"}
    assert {"GET", "DELETE"} <= set(response.headers["Allow"].split(","))


class ExplodingStore(MemoryStore):
    """A store with a bug: ``get`` raises something no backend may raise."""

    async def get(self, key: str, now: float) -> Snapshot:
        raise RuntimeError("bug in a backend")


async def with_store(
    aiohttp_client: ClientFactory, clock: ManualClock, store: SnapshotStore
) -> Client:
    """A client of an app over ``store`` itself: tests of what the app does with a store that
    misbehaves run once, not once per backend."""

    async def opener(config: StorageConfig) -> SnapshotStore:
        return store

    app = create_app(api_config(StorageConfig(backend="memory")), opener, clock=clock)
    return await serve(aiohttp_client, app)


async def test_unexpected_error_is_json_500_without_traceback(
    aiohttp_client: ClientFactory, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    client = await with_store(aiohttp_client, clock, ExplodingStore())
    response = await client.get("/api/snapshots/SecretViewKey123")
    assert response.status == 500
    assert response.content_type == "application/json"
    assert await response.json() == {"message": "Internal server error"}
    assert "bug in a backend" in caplog.text  # logged for the operator, not sent to the client
    assert "/api/snapshots/{key}" in caplog.text
    assert "SecretViewKey123" not in caplog.text  # keys are secrets: never logged


async def test_storage_down_is_503(
    aiohttp_client: ClientFactory,
    tmp_path: Any,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage = StorageConfig.using("sqlite", SQLiteSettings(path=str(tmp_path / "s.db")))
    app = create_app(api_config(storage), open_store, clock=clock)
    client = await serve(aiohttp_client, app)
    made = await create(client)
    await app[STORE].aclose()  # the database connection is gone from under the app
    checks = [
        client.get(f"/api/snapshots/{made['key']}"),
        client.post("/api/snapshots", json={"dashboard": {}}, headers=auth("editor")),
        client.get("/api/dashboard/snapshots", headers=auth("editor")),
        client.get(f"/api/snapshots-delete/{made['deleteKey']}"),
    ]
    for call in checks:
        response = await call
        assert response.status == 503
        assert await response.json() == {"message": "Storage unavailable"}
    health = await client.get("/api/health")
    assert health.status == 503
    assert (await health.json())["database"] == "failing"
    assert "Storage unavailable" in caplog.text
    assert made["key"] not in caplog.text
    assert made["deleteKey"] not in caplog.text


async def test_cleanup_removes_expired(client: Client, clock: ManualClock) -> None:
    service = client.app[SERVICE]
    short = await create(client, expires=30)
    keep = await create(client, expires=3000)
    assert await service.cleanup_expired() == 0
    clock.advance(30)
    assert await service.cleanup_expired() == 1
    clock.advance(-30)  # the record is really gone, not just hidden by the clock
    assert (await client.get(f"/api/snapshots/{short['key']}")).status == 404
    assert (await client.get(f"/api/snapshots/{keep['key']}")).status == 200


async def test_cleanup_job_runs_every_interval(client: Client, clock: ManualClock) -> None:
    service = client.app[SERVICE]
    made = await create(client, expires=5)
    clock.advance(5)
    rounds: list[float] = []
    done = asyncio.Event()

    async def fake_sleep(seconds: float) -> None:
        rounds.append(seconds)
        if len(rounds) == 3:
            done.set()
            await asyncio.Event().wait()  # park the job: the test has seen enough rounds
        await asyncio.sleep(0)

    counted: list[int] = []
    job = asyncio.create_task(run_cleanup_job(service, 42.0, fake_sleep, counted.append))
    await asyncio.wait_for(done.wait(), 5)
    job.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await job  # a cancelled task is awaited, or it outlives the test
    assert rounds == [42.0, 42.0, 42.0]
    assert counted == [1, 0]
    clock.advance(-5)
    assert (await client.get(f"/api/snapshots/{made['key']}")).status == 404


class FlakyCleanupStore(MemoryStore):
    """A store whose first ``delete_expired`` fails with a bug (not a StorageUnavailable)."""

    failed = False

    async def delete_expired(self, now: float, limit: int = 1000) -> list[SnapshotMeta]:
        if not self.failed:
            self.failed = True
            raise ValueError("unreadable index entry")
        return await super().delete_expired(now, limit)


async def test_cleanup_job_survives_an_unexpected_error(
    aiohttp_client: ClientFactory, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    client = await with_store(aiohttp_client, clock, FlakyCleanupStore())
    made = await create(client, expires=5)
    clock.advance(5)
    rounds = 0
    done = asyncio.Event()

    async def fake_sleep(seconds: float) -> None:
        nonlocal rounds
        rounds += 1
        if rounds == 3:
            done.set()
            await asyncio.Event().wait()
        await asyncio.sleep(0)

    job = asyncio.create_task(run_cleanup_job(client.app[SERVICE], 1.0, fake_sleep))
    await asyncio.wait_for(done.wait(), 5)
    job.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await job  # a cancelled task is awaited, or it outlives the test
    assert "cleanup job failed" in caplog.text
    clock.advance(-5)  # the second round removed it for real
    assert (await client.get(f"/api/snapshots/{made['key']}")).status == 404
