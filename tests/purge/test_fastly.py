"""The fastly purger against a local stand-in for Fastly's purge-by-surrogate-key API."""

from __future__ import annotations

from email.utils import formatdate

import pytest
from pytest_aiohttp import AiohttpServer

from snapshot_server.logs import secret_ref
from snapshot_server.purge.fastly import FastlyPurger, FastlySettings
from tests.purge.helpers import Answer, RecordingSleep, ScriptedApi, base_url, dispatcher, run
from tests.support import ManualClock

SERVICE = "SU1Z0isxPaozGVKXdv0eY"
TOKEN = "fastly-token-ZmFzdGx5"
OK = Answer(200, {"status": "ok", "id": "108-1391560174-974124"})


async def purger_for(aiohttp_server: AiohttpServer, api: ScriptedApi) -> FastlyPurger:
    server = await aiohttp_server(api.app())
    settings = FastlySettings(SERVICE, TOKEN, api_base=base_url(server), max_attempts=3)
    return FastlyPurger("fastly[0]", settings)


async def test_purges_the_surrogate_key_as_fastly_documents(
    aiohttp_server: AiohttpServer, clock: ManualClock
) -> None:
    api = ScriptedApi([OK])
    d = dispatcher([await purger_for(aiohttp_server, api)], RecordingSleep(), clock)
    await run(d, "Key_with-dash9")
    [req] = api.seen
    assert req.method == "POST"
    assert req.path == f"/service/{SERVICE}/purge/snapshot-Key_with-dash9"
    assert req.headers["Fastly-Key"] == TOKEN
    assert req.headers["Accept"] == "application/json"
    assert "Fastly-Soft-Purge" not in req.headers  # a deleted snapshot must not linger stale
    assert req.body == b""
    assert (d.stats.succeeded, d.stats.failed) == (1, 0)


async def test_one_call_per_key_even_when_batched(
    aiohttp_server: AiohttpServer, clock: ManualClock
) -> None:
    api = ScriptedApi([OK])
    d = dispatcher([await purger_for(aiohttp_server, api)], RecordingSleep(), clock)
    for key in ("a", "b", "a"):
        d.submit(key, "delete")
    await run(d)
    paths = sorted(req.path for req in api.seen)
    assert paths == [f"/service/{SERVICE}/purge/snapshot-{k}" for k in ("a", "b")]


async def test_429_with_http_date_retry_after(
    aiohttp_server: AiohttpServer, clock: ManualClock
) -> None:
    later = formatdate(clock() + 30, usegmt=True)
    api = ScriptedApi([Answer(429, {"msg": "rate limited"}, headers={"Retry-After": later}), OK])
    sleep = RecordingSleep(clock)
    d = dispatcher([await purger_for(aiohttp_server, api)], sleep, clock)
    await run(d, "k1")
    assert sleep.delays == [30.0]
    assert len(api.seen) == 2
    assert (d.stats.succeeded, d.stats.retried) == (1, 1)


async def test_gives_up_after_max_attempts_of_5xx(
    aiohttp_server: AiohttpServer, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    api = ScriptedApi([Answer(503, text="Service Unavailable")])
    sleep = RecordingSleep()
    d = dispatcher([await purger_for(aiohttp_server, api)], sleep, clock)
    await run(d, "k1")
    assert len(api.seen) == 3  # max_attempts
    assert len(sleep.delays) == 2
    assert (d.stats.succeeded, d.stats.failed, d.stats.retried) == (0, 1, 2)
    assert (
        f"purge failed: fastly[0] surrogate key snapshot-{secret_ref('k1')} after 3 attempt(s)"
        in caplog.text
    )


async def test_bad_token_is_not_retried(aiohttp_server: AiohttpServer, clock: ManualClock) -> None:
    api = ScriptedApi([Answer(401, {"msg": "Provided credentials are missing or invalid"}), OK])
    sleep = RecordingSleep()
    d = dispatcher([await purger_for(aiohttp_server, api)], sleep, clock)
    await run(d, "k1")
    assert len(api.seen) == 1
    assert sleep.delays == []
    assert d.stats.failed == 1
