"""The http purger against a real varnishd running tests/e2e/varnish.vcl, in front of a
small aiohttp backend that counts what reaches it."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from snapshot_server.logs import secret_ref
from snapshot_server.purge import PurgeDispatcher
from snapshot_server.purge.http import HttpPurger, HttpSettings
from tests.e2e.varnish import Varnish, VarnishFactory
from tests.purge.helpers import RecordingSleep, dispatcher
from tests.support import ManualClock

HOST = "snapshots.example.test"
ROOT = f"http://{HOST}/"


class Backend:
    """Serves every path as a cacheable JSON document and counts requests per path."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()

    async def handle(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        return web.json_response(
            {"path": request.path, "n": self.hits[request.path]},
            headers={"Cache-Control": "public, max-age=300"},
        )


@pytest.fixture
async def backend(aiohttp_server: AiohttpServer) -> tuple[Backend, int]:
    b = Backend()
    app = web.Application()
    app.router.add_get("/{tail:.*}", b.handle)
    server = await aiohttp_server(app)
    assert server.port is not None
    return b, server.port


@pytest.fixture
async def varnish(varnish_factory: VarnishFactory, backend: tuple[Backend, int]) -> Varnish:
    return varnish_factory(backend[1])


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def purging(
    varnish: Varnish, clock: ManualClock, sleep: RecordingSleep | None = None, **settings: Any
) -> PurgeDispatcher:
    """A dispatcher with one http purger, ``varnish`` its node, for the public ``ROOT``."""
    purger = HttpPurger("http[0]", HttpSettings((varnish.url,), **settings))
    return dispatcher([purger], sleep or RecordingSleep(), clock, ROOT)


async def get(client: aiohttp.ClientSession, varnish: Varnish, path: str) -> tuple[str, int]:
    """GET ``path`` through Varnish with the public Host; returns (X-Cache, body's n)."""
    async with client.get(varnish.url + path, headers={"Host": HOST}) as resp:
        assert resp.status == 200
        return resp.headers["X-Cache"], (await resp.json())["n"]


async def test_second_get_is_a_hit_and_purge_makes_it_miss(
    varnish: Varnish,
    backend: tuple[Backend, int],
    client: aiohttp.ClientSession,
    clock: ManualClock,
) -> None:
    b, _ = backend
    paths = ("/api/snapshots/AbC123", "/dashboard/snapshot/AbC123")
    for path in paths:
        assert await get(client, varnish, path) == ("MISS", 1)
        assert await get(client, varnish, path) == ("HIT", 1)
        assert b.hits[path] == 1
    # Grafana's spellings of the viewer URL share the cached object, so one purge clears all
    assert (await get(client, varnish, "/dashboard/snapshot/AbC123?orgId=1"))[0] == "HIT"
    assert (await get(client, varnish, "/api/snapshots/AbC123/"))[0] == "HIT"
    assert await get(client, varnish, "/api/snapshots/Other") == ("MISS", 1)

    d = purging(varnish, clock)
    await d.start()
    d.submit("AbC123", "delete")
    async with asyncio.timeout(10):
        await d.join()
    await d.aclose()
    assert (d.stats.succeeded, d.stats.failed) == (2, 0)

    for path in paths:
        assert await get(client, varnish, path) == ("MISS", 2)
        assert b.hits[path] == 2
    assert (await get(client, varnish, "/dashboard/snapshot/AbC123?orgId=1"))[0] == "HIT"
    assert await get(client, varnish, "/api/snapshots/Other") == ("HIT", 1)  # untouched


async def test_purge_of_an_uncached_url_succeeds(varnish: Varnish, clock: ManualClock) -> None:
    d = purging(varnish, clock)
    await d.start()
    d.submit("NeverCached", "expired")
    await d.aclose(timeout=10)
    assert (d.stats.succeeded, d.stats.failed) == (2, 0)


async def raw_purge_from(varnish: Varnish, client_ip: str, path: str) -> bytes:
    """A PURGE that Varnish sees as coming from ``client_ip`` (PROXY protocol v1 header)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", varnish.proxy_port)
    try:
        writer.write(
            f"PROXY TCP4 {client_ip} 127.0.0.1 40000 80\r\n"
            f"PURGE {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        async with asyncio.timeout(10):
            return await reader.readline()
    finally:
        writer.close()
        await writer.wait_closed()


async def test_acl_allows_loopback_and_refuses_others(
    varnish: Varnish, client: aiohttp.ClientSession
) -> None:
    path = "/api/snapshots/AbC123"
    assert await get(client, varnish, path) == ("MISS", 1)
    assert (
        await raw_purge_from(varnish, "203.0.113.7", path)
        == b"HTTP/1.1 405 Purging not allowed\r\n"
    )
    assert (await get(client, varnish, path))[0] == "HIT"  # the refused purge did nothing
    assert await raw_purge_from(varnish, "127.0.0.1", path) == b"HTTP/1.1 200 Purged\r\n"
    assert (await get(client, varnish, path))[0] == "MISS"


async def test_stopped_varnish_is_retried_and_logged_and_submit_is_instant(
    varnish: Varnish, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    varnish.stop()
    sleep = RecordingSleep()
    d = purging(varnish, clock, sleep, max_attempts=3)
    await d.start()
    t0 = time.perf_counter()
    d.submit("AbC123", "delete")
    submit_seconds = time.perf_counter() - t0
    async with asyncio.timeout(10):
        await d.join()
    await d.aclose()
    assert submit_seconds < 0.1  # no I/O on the caller's side: it only queues
    assert (d.stats.failed, d.stats.retried, d.stats.succeeded) == (2, 4, 0)
    assert len(sleep.delays) == 4
    assert (
        f"purge failed: http[0] {ROOT}api/snapshots/{secret_ref('AbC123')} via {varnish.url} after"
        " 3 attempt(s)" in caplog.text
    )
