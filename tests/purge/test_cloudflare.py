"""The cloudflare purger against a local stand-in for Cloudflare's zone purge_cache API."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from snapshot_server.logs import secret_ref
from snapshot_server.purge import PurgeEvent
from snapshot_server.purge.cloudflare import CloudflarePurger, CloudflareSettings, _ZonePurge
from tests.purge.helpers import Answer, RecordingSleep, ScriptedApi, base_url, dispatcher, run
from tests.support import ManualClock

ZONE = "023e105f4ecef8ad9ca31a8372d0c353"
TOKEN = "cf-token-Y2xvdWRmbGFyZQ"
OK = Answer(200, {"success": True, "errors": [], "messages": [], "result": {"id": ZONE}})


async def purger_for(aiohttp_server: AiohttpServer, api: ScriptedApi) -> CloudflarePurger:
    server = await aiohttp_server(api.app())
    api_base = f"{base_url(server)}/client/v4"
    return CloudflarePurger(
        "cloudflare[0]", CloudflareSettings(ZONE, TOKEN, api_base, max_attempts=4)
    )


async def test_purges_both_urls_as_cloudflare_documents(
    aiohttp_server: AiohttpServer, clock: ManualClock
) -> None:
    api = ScriptedApi([OK])
    sleep = RecordingSleep()
    d = dispatcher([await purger_for(aiohttp_server, api)], sleep, clock)
    await run(d, "AbC123")
    [req] = api.seen
    assert req.method == "POST"
    assert req.path == f"/client/v4/zones/{ZONE}/purge_cache"
    assert req.headers["Authorization"] == f"Bearer {TOKEN}"
    assert req.headers["Content-Type"] == "application/json"
    assert req.json() == {
        "files": [
            "https://snapshots.example.com/api/snapshots/AbC123",
            "https://snapshots.example.com/dashboard/snapshot/AbC123",
        ]
    }
    assert (d.stats.succeeded, d.stats.failed, d.stats.retried) == (1, 0, 0)
    assert sleep.delays == []


async def test_batches_many_deletes_at_most_100_urls_a_call(
    aiohttp_server: AiohttpServer, clock: ManualClock
) -> None:
    api = ScriptedApi([OK])
    d = dispatcher([await purger_for(aiohttp_server, api)], RecordingSleep(), clock)
    keys = [f"key{i:03d}" for i in range(120)]
    for key in keys:  # queued before start, so workers take them in batches
        d.submit(key, "expired")
    await run(d)
    files = [f for req in api.seen for f in req.json()["files"]]
    assert all(len(req.json()["files"]) <= 100 for req in api.seen)
    assert len(api.seen) < len(keys)  # batched, not one call per key
    assert sorted(files) == sorted(
        u for k in keys for u in (f"https://snapshots.example.com/{p}/{k}" for p in (
            "api/snapshots", "dashboard/snapshot"))
    )  # fmt: skip
    assert d.stats.failed == 0


def test_chunks_of_100() -> None:
    events = [PurgeEvent(f"k{i}", "delete", (f"u{i}a", f"u{i}b"), 0.0) for i in range(120)]
    deliveries = CloudflarePurger("cloudflare[0]", CloudflareSettings(ZONE, TOKEN)).deliveries(
        events
    )
    sizes = [len(d.files) if isinstance(d, _ZonePurge) else -1 for d in deliveries]
    assert sizes == [100, 100, 40]


async def test_429_waits_retry_after_then_succeeds(
    aiohttp_server: AiohttpServer, clock: ManualClock
) -> None:
    limited = Answer(
        429,
        {"success": False, "errors": [{"code": 10000, "message": "Rate limited"}]},
        headers={"Retry-After": "7"},
    )
    api = ScriptedApi([limited, OK])
    sleep = RecordingSleep()
    d = dispatcher([await purger_for(aiohttp_server, api)], sleep, clock)
    await run(d, "k1")
    assert len(api.seen) == 2
    assert sleep.delays == [7.0]
    assert (d.stats.succeeded, d.stats.retried, d.stats.failed) == (1, 1, 0)


async def test_5xx_backs_off_exponentially_then_succeeds(
    aiohttp_server: AiohttpServer, clock: ManualClock
) -> None:
    api = ScriptedApi([Answer(502, text="bad gateway"), Answer(503, text="busy"), OK])
    sleep = RecordingSleep()
    d = dispatcher([await purger_for(aiohttp_server, api)], sleep, clock)
    await run(d, "k1")
    assert len(api.seen) == 3
    # base 0.5 s doubling; jitter fixed at the midpoint of the upper half: 0.75 of each
    assert sleep.delays == [0.375, 0.75]
    assert (d.stats.succeeded, d.stats.retried) == (1, 2)


@pytest.mark.parametrize(
    "answer",
    [
        Answer(400, {"success": False, "errors": [{"code": 1012, "message": "bad files"}]}),
        Answer(200, {"success": False, "errors": [{"code": 1134, "message": "not allowed"}]}),
        Answer(403, {"success": False, "errors": [{"code": 10000, "message": "auth"}]}),
        Answer(200, text="<html>not json</html>"),
    ],
)
async def test_refusal_is_not_retried(
    aiohttp_server: AiohttpServer,
    clock: ManualClock,
    answer: Answer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = ScriptedApi([answer, OK])
    sleep = RecordingSleep()
    d = dispatcher([await purger_for(aiohttp_server, api)], sleep, clock)
    await run(d, "k1")
    assert len(api.seen) == 1
    assert sleep.delays == []
    assert (d.stats.succeeded, d.stats.failed, d.stats.retried) == (0, 1, 0)
    [failure] = [r for r in caplog.records if r.getMessage().startswith("purge failed")]
    assert "cloudflare[0]" in failure.getMessage()
    # The URL says which snapshot, without its key (a view key is a capability).
    shown = f"https://snapshots.example.com/api/snapshots/{secret_ref('k1')}"
    assert shown in failure.getMessage()
    assert "/k1" not in caplog.text
    assert TOKEN not in caplog.text


async def test_answer_arriving_in_chunks_is_read_whole(
    aiohttp_server: AiohttpServer, clock: ManualClock
) -> None:
    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(b'{"success": ')
        await asyncio.sleep(0.01)  # a real pause between chunks on the wire
        await resp.write(b'true, "errors": [], "messages": [], "result": {"id": "x"}}')
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_post("/client/v4/zones/{zone}/purge_cache", chunked)
    server = await aiohttp_server(app)
    purger = CloudflarePurger(
        "cloudflare[0]", CloudflareSettings(ZONE, TOKEN, f"{base_url(server)}/client/v4")
    )
    d = dispatcher([purger], RecordingSleep(), clock)
    await run(d, "k1")
    assert (d.stats.succeeded, d.stats.failed) == (1, 0)
