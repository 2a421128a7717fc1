"""The series an operator alerts on, through the real application in one process: creates,
deletes by route, cleanup rounds, storage errors, purges and their queue, external publishes."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from aiohttp import web

from backends import open_store
from backends.memory import MemoryStore
from snapshot_server.cleanup import run_cleanup_job
from snapshot_server.config import StorageConfig
from snapshot_server.errors import StorageUnavailable
from snapshot_server.models import SnapshotMeta
from snapshot_server.purge import PurgeDispatcher, PurgeError
from snapshot_server.purge.recording import RecordingPurger
from snapshot_server.webapp.app import create_app
from snapshot_server.webapp.appkeys import METRICS, SERVICE
from tests.api.conftest import ROOT_URL, Client, api_config, auth, create
from tests.external.fake_remote import start_fake
from tests.ops.samples import Samples, parse
from tests.purge.helpers import RecordingSleep
from tests.support import ClientFactory, ManualClock, serve


async def scrape(client: Client) -> Samples:
    response = await client.get("/metrics")
    assert response.status == 200
    return parse(await response.text())


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


class BrokenStore(MemoryStore):
    """A store whose backend is down for reads and cleanups (as a lost Redis would be)."""

    down = False

    async def get(self, key: str, now: float) -> object:  # type: ignore[override]
        if self.down:
            raise StorageUnavailable("connection refused")
        return await super().get(key, now)

    async def delete_expired(self, now: float, limit: int = 1000) -> list[SnapshotMeta]:
        if self.down:
            raise StorageUnavailable("connection refused")
        return await super().delete_expired(now, limit)

    async def ping(self) -> None:
        if self.down:
            raise StorageUnavailable("connection refused")


async def app_over(
    aiohttp_client: ClientFactory,
    clock: ManualClock,
    store: MemoryStore | None = None,
    dispatcher: PurgeDispatcher | None = None,
    **snapshots: object,
) -> Client:
    async def opener(config: StorageConfig) -> MemoryStore:
        return store if store is not None else MemoryStore()

    config = api_config(StorageConfig("memory"), **snapshots)
    app: web.Application = create_app(
        config, opener if store is not None else open_store, clock=clock, dispatcher=dispatcher
    )
    return await serve(aiohttp_client, app)


async def test_every_alerting_series_exists_at_zero(aiohttp_client: ClientFactory) -> None:
    samples = await scrape(await app_over(aiohttp_client, ManualClock()))
    for name, labels in [
        ("snapshot_created_total", {"route": "/api/snapshots"}),
        ("snapshot_deleted_total", {"route": "/api/snapshots/{key}"}),
        ("snapshot_deleted_total", {"route": "/api/snapshots-delete/{delete_key}"}),
        ("snapshot_expired_removed_total", {}),
        ("snapshot_cleanup_runs_total", {"outcome": "ok"}),
        ("snapshot_cleanup_runs_total", {"outcome": "failed"}),
        ("snapshot_external_publishes_total", {"outcome": "published"}),
        ("snapshot_external_publishes_total", {"outcome": "failed"}),
        ("snapshot_external_publishes_total", {"outcome": "withdrawn"}),
    ]:
        assert value(samples, name, **labels) == 0, (name, labels)


async def test_creates_and_deletes_are_counted_by_route(aiohttp_client: ClientFactory) -> None:
    client = await app_over(aiohttp_client, ManualClock())
    made = [await create(client) for _ in range(4)]
    slashed = f"{str(client.make_url('/')).rstrip('/')}//api/snapshots"  # as Grafana may send
    response = await client.session.post(slashed, json={"dashboard": {}}, headers=auth("editor"))
    assert response.status == 200
    await create(client, status=400, dashboard="not an object")  # refused: not a create
    assert (await client.delete(f"/api/snapshots/{made[0]['key']}", headers=auth("editor"))).ok
    assert (await client.get(f"/api/snapshots-delete/{made[1]['deleteKey']}")).ok
    assert (await client.get(f"/api/snapshots-delete/{made[2]['deleteKey']}/")).ok
    assert (await client.get(f"/api/snapshots-delete/{made[1]['deleteKey']}")).status == 404
    response = await client.delete(f"/api/snapshots/{made[3]['key']}", headers=auth("editor2"))
    assert response.status == 403  # not the creator's: nothing deleted
    samples = await scrape(client)
    assert value(samples, "snapshot_created_total", route="/api/snapshots") == 4
    assert value(samples, "snapshot_created_total", route="//api/snapshots") == 1
    assert value(samples, "snapshot_deleted_total", route="/api/snapshots/{key}") == 1
    by_delete_key = "/api/snapshots-delete/{delete_key}"
    assert value(samples, "snapshot_deleted_total", route=by_delete_key) == 1
    assert value(samples, "snapshot_deleted_total", route=by_delete_key + "/") == 1


async def test_storage_errors_and_failed_cleanups_are_counted(
    aiohttp_client: ClientFactory,
) -> None:
    clock = ManualClock()
    store = BrokenStore()
    client = await app_over(aiohttp_client, clock, store)
    made = await create(client, expires=5)
    store.down = True
    assert (await client.get(f"/api/snapshots/{made['key']}")).status == 503
    assert (await client.get("/api/health")).status == 503
    metrics = client.app[METRICS]

    rounds = 0
    done = asyncio.Event()

    async def one_round_each(seconds: float) -> None:
        nonlocal rounds
        rounds += 1
        if rounds == 2:
            store.down = False  # the second round finds storage back
            clock.advance(5)
        if rounds == 3:
            done.set()
            await asyncio.Event().wait()

    job = asyncio.create_task(
        run_cleanup_job(
            client.app[SERVICE],
            1.0,
            one_round_each,
            metrics.expired_removed.inc,
            round_done=metrics.count_cleanup_round,
        )
    )
    await asyncio.wait_for(done.wait(), 5)
    job.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await job
    samples = await scrape(client)
    assert value(samples, "snapshot_storage_errors_total", route="/api/snapshots/{key}") == 1
    assert value(samples, "snapshot_storage_errors_total", route="/api/health") == 1
    assert value(samples, "snapshot_cleanup_runs_total", outcome="failed") == 1
    assert value(samples, "snapshot_cleanup_runs_total", outcome="ok") == 1
    assert value(samples, "snapshot_expired_removed_total") == 1


async def test_purges_attempts_failures_and_queue_depth(aiohttp_client: ClientFactory) -> None:
    clock = ManualClock()
    failing = RecordingPurger(failures=[PurgeError("503", retryable=True)] * 5)
    failing.max_attempts = 2
    dispatcher = PurgeDispatcher(
        [failing], root_url=ROOT_URL, clock=clock, sleep=RecordingSleep(), workers=1
    )
    client = await app_over(aiohttp_client, clock, dispatcher=dispatcher)
    made = [await create(client) for _ in range(2)]
    for item in made:
        assert (await client.get(f"/api/snapshots-delete/{item['deleteKey']}")).ok
    async with asyncio.timeout(5):
        await dispatcher.join()
    samples = await scrape(client)
    purges = {
        outcome: value(samples, "snapshot_purges_total", outcome=outcome)
        for outcome in ("submitted", "attempted", "retried", "failed", "succeeded", "dropped")
    }
    # Two events: one delivery each (the batching may join them); each tried twice, failing.
    deliveries = purges["failed"]
    assert deliveries in (1, 2)
    assert purges == {
        "submitted": 2,
        "attempted": 2 * deliveries,
        "retried": deliveries,
        "failed": deliveries,
        "succeeded": 0,
        "dropped": 0,
    }
    assert value(samples, "snapshot_purge_queue_depth") == 0


async def test_purge_queue_depth_follows_the_queue(aiohttp_client: ClientFactory) -> None:
    clock = ManualClock()
    dispatcher = PurgeDispatcher([RecordingPurger()], root_url=ROOT_URL, clock=clock)
    client = await app_over(aiohttp_client, clock)
    client.app[METRICS].watch_purges(dispatcher)  # watched, never started: nothing leaves
    for n in range(3):
        dispatcher.submit(f"key{n}", "delete")
    samples = await scrape(client)
    assert value(samples, "snapshot_purge_queue_depth") == 3
    assert value(samples, "snapshot_purges_total", outcome="submitted") == 3


@pytest.mark.parametrize(("mode", "outcome"), [("ok", "published"), ("garbage500", "failed")])
async def test_external_publishes_are_counted_by_outcome(
    aiohttp_client: ClientFactory, mode: str, outcome: str
) -> None:
    remote = await start_fake(create_mode=mode)
    try:
        client = await app_over(
            aiohttp_client,
            ManualClock(),
            external_enabled=True,
            external_snapshot_url=remote.base.rstrip("/"),
            external_timeout=5.0,
        )
        await create(client, status=200 if mode == "ok" else 502, external=True)
        samples = await scrape(client)
    finally:
        assert remote.server is not None
        await remote.server.close()
    for each in ("published", "failed", "withdrawn"):
        expected = 1 if each == outcome else 0
        assert value(samples, "snapshot_external_publishes_total", outcome=each) == expected
