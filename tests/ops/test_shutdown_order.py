"""The order of a graceful shutdown, through the runner ``serve`` uses: new connections are
refused at once, a create already storing finishes and is answered, and only then is storage
closed; a request that outlives the in-flight bound is cancelled instead of holding the stop."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web

from backends.memory import MemoryStore
from snapshot_server.config import StorageConfig
from snapshot_server.models import NewSnapshot, SnapshotMeta
from snapshot_server.webapp.app import create_app
from snapshot_server.webapp.protocol import SnapshotRunner
from tests.api.conftest import api_config, auth
from tests.support import ManualClock


class HeldInsertStore(MemoryStore):
    """Inserts wait until the test releases them; ``closed`` once ``aclose`` ran."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.closed = False

    async def insert(self, record: NewSnapshot) -> SnapshotMeta:
        self.entered.set()
        await self.release.wait()
        return await super().insert(record)

    async def aclose(self) -> None:
        self.closed = True
        await super().aclose()


async def serving(store: HeldInsertStore, **runner: float) -> tuple[SnapshotRunner, str]:
    async def opener(config: StorageConfig) -> MemoryStore:
        return store

    app: web.Application = create_app(
        api_config(StorageConfig("memory")), opener, clock=ManualClock()
    )
    served = SnapshotRunner(app, **runner)
    await served.setup()
    site = web.TCPSite(served, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    port = server.sockets[0].getsockname()[1]
    return served, f"http://127.0.0.1:{port}/"


async def test_a_create_storing_finishes_before_storage_closes() -> None:
    store = HeldInsertStore()
    runner, base = await serving(store)
    async with aiohttp.ClientSession() as http:
        create = asyncio.create_task(
            http.post(f"{base}api/snapshots", json={"dashboard": {"a": 1}}, headers=auth("editor"))
        )
        await asyncio.wait_for(store.entered.wait(), 5)
        stopping = asyncio.create_task(runner.cleanup())
        await asyncio.sleep(0.2)
        assert not stopping.done()
        assert not store.closed  # the create in flight still needs it
        async with aiohttp.ClientSession() as other:
            with pytest.raises(aiohttp.ClientConnectionError):
                await other.get(f"{base}api/health")  # no longer accepting
        store.release.set()
        response = await asyncio.wait_for(create, 5)
        assert response.status == 200
        assert (await response.json())["key"]
        await asyncio.wait_for(stopping, 5)
    assert store.closed


async def test_a_request_past_the_bound_is_cancelled() -> None:
    store = HeldInsertStore()  # never released
    runner, base = await serving(store, shutdown_timeout=0.3)
    async with aiohttp.ClientSession() as http:
        create = asyncio.create_task(
            http.post(f"{base}api/snapshots", json={"dashboard": {"a": 1}}, headers=auth("editor"))
        )
        await asyncio.wait_for(store.entered.wait(), 5)
        started = time.monotonic()
        await asyncio.wait_for(runner.cleanup(), 5)
        assert time.monotonic() - started < 2  # the bound, and as long again at most
        with pytest.raises(aiohttp.ClientError):
            await asyncio.wait_for(create, 5)  # never acknowledged
    assert store.closed
