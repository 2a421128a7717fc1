"""The http purger against a local stand-in for a cache node (method, path, Host)."""

from __future__ import annotations

import pytest
from pytest_aiohttp import AiohttpServer

from snapshot_server.purge.http import HttpPurger, HttpSettings
from tests.purge.helpers import Answer, RecordingSleep, ScriptedApi, base_url, dispatcher, run
from tests.support import ManualClock


async def test_purges_each_url_on_each_node_with_public_host(
    aiohttp_server: AiohttpServer, clock: ManualClock
) -> None:
    nodes = [ScriptedApi([Answer(200, text="Purged")]) for _ in range(2)]
    urls = [base_url(await aiohttp_server(n.app())) for n in nodes]
    d = dispatcher([HttpPurger("http[0]", HttpSettings(tuple(urls)))], RecordingSleep(), clock)
    await run(d, "AbC123")
    for node in nodes:
        assert sorted((r.method, r.path, r.headers["Host"]) for r in node.seen) == [
            ("PURGE", "/api/snapshots/AbC123", "snapshots.example.com"),
            ("PURGE", "/dashboard/snapshot/AbC123", "snapshots.example.com"),
        ]
    assert d.stats.succeeded == 4


async def test_custom_method_and_node_path_prefix(
    aiohttp_server: AiohttpServer, clock: ManualClock
) -> None:
    node = ScriptedApi([Answer(200)])
    url = base_url(await aiohttp_server(node.app())) + "/purge/"
    d = dispatcher(
        [HttpPurger("http[0]", HttpSettings((url,), method="GET"))], RecordingSleep(), clock
    )
    await run(d, "k1")
    assert sorted((r.method, r.path) for r in node.seen) == [
        ("GET", "/purge/api/snapshots/k1"),
        ("GET", "/purge/dashboard/snapshot/k1"),
    ]


async def test_404_not_cached_counts_as_success(
    aiohttp_server: AiohttpServer, clock: ManualClock
) -> None:
    node = ScriptedApi([Answer(404, text="Not Found")])  # nginx proxy_cache_purge: not cached
    d = dispatcher(
        [HttpPurger("http[0]", HttpSettings((base_url(await aiohttp_server(node.app())),)))],
        RecordingSleep(),
        clock,
    )
    await run(d, "k1")
    assert (d.stats.succeeded, d.stats.failed, len(node.seen)) == (2, 0, 2)


@pytest.mark.parametrize(("status", "tries"), [(405, 1), (403, 1), (500, 3), (429, 3)])
async def test_failures(
    aiohttp_server: AiohttpServer, clock: ManualClock, status: int, tries: int
) -> None:
    node = ScriptedApi([Answer(status)])
    settings = HttpSettings((base_url(await aiohttp_server(node.app())),), max_attempts=3)
    purger = HttpPurger("http[0]", settings)
    d = dispatcher([purger], RecordingSleep(), clock)
    await run(d, "k1")
    assert len(node.seen) == 2 * tries
    assert (d.stats.succeeded, d.stats.failed) == (0, 2)
