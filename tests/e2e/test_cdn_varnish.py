"""The real server behind a real Varnish (tests/e2e/varnish.vcl) with an ``http`` purger:
a deleted snapshot stops being served by the cache within milliseconds of the delete, on both
of its URLs and through both delete routes, and an expiring snapshot is never served past
expiry.

The purge runs in the background (it must never slow the delete), so a GET sent the instant
the delete response arrives can still race it and hit; the test therefore measures the
latency from the delete response to the first miss and bounds it, rather than demanding
that the very next GET misses.

The app gets a ``PurgeDispatcher`` built from its ``config.cdn`` but with an injected sleep
that records each backoff and returns at once: retries still go to the real (stopped, or
restarted) Varnish, without the suite waiting through real backoff.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer

from backends import open_store
from backends.sqlite import SQLiteSettings
from snapshot_server.config import (
    AuthConfig,
    CdnConfig,
    Config,
    ServerConfig,
    SnapshotsConfig,
    StorageConfig,
    token_config,
)
from snapshot_server.logs import secret_ref
from snapshot_server.purge import PurgeDispatcher, build_dispatcher
from snapshot_server.purge.http import HttpSettings
from snapshot_server.webapp.app import create_app
from tests.e2e.varnish import Varnish, VarnishFactory
from tests.purge.helpers import RecordingSleep
from tests.support import free_port

HOST = "snapshots.example.test"
ROOT = f"http://{HOST}/"
TOKEN = "e2e-editor-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DASHBOARD = {"title": "CDN e2e", "panels": [], "schemaVersion": 39}


class BackoffSleep(RecordingSleep):
    """The dispatcher's sleep: records each backoff and returns at once. Once ``bring_back``
    is set, the first backoff restarts the stopped Varnish and every retry waits until it is
    up, as a cache node that comes back while its purges are being retried."""

    def __init__(self, varnish: Varnish) -> None:
        super().__init__()
        self.varnish = varnish
        self.bring_back = False
        self._restarted: asyncio.Future[None] | None = None

    async def __call__(self, delay: float) -> None:
        if self.bring_back:
            if self._restarted is None:
                self._restarted = asyncio.ensure_future(asyncio.to_thread(self.varnish.restart))
            await asyncio.shield(self._restarted)
        await super().__call__(delay)


@dataclass
class Stack:
    varnish: Varnish
    session: aiohttp.ClientSession
    app_url: str  # the server itself, not through Varnish
    dispatcher: PurgeDispatcher
    sleep: BackoffSleep

    async def get(self, path: str) -> tuple[int, str]:
        """GET through Varnish as the public would; returns (status, X-Cache)."""
        async with self.session.get(self.varnish.url + path, headers={"Host": HOST}) as resp:
            await resp.read()
            return resp.status, resp.headers.get("X-Cache", "")

    async def create(self, expires: int = 0) -> dict[str, str]:
        body = {"dashboard": DASHBOARD, "name": "cdn", "expires": expires}
        async with self.session.post(
            self.varnish.url + "/api/snapshots", json=body, headers={**AUTH, "Host": HOST}
        ) as resp:
            assert resp.status == 200, await resp.text()
            created: dict[str, str] = await resp.json()
            return created


def config(tmp_path: Path, varnish_url: str) -> Config:
    token = token_config("e2e", TOKEN, role="Editor")
    return Config(
        server=ServerConfig(root_url=ROOT),
        storage=StorageConfig.using("sqlite", SQLiteSettings(str(tmp_path / "s.db"))),
        snapshots=SnapshotsConfig(cache_max_age=3600, cleanup_interval=0.5),
        auth=AuthConfig(tokens=(token,)),
        cdn=CdnConfig(purgers=(HttpSettings(nodes=(varnish_url,), max_attempts=3),)),
    )


@pytest.fixture
async def stack(
    tmp_path: Path, varnish_factory: VarnishFactory, aiohttp_server: AiohttpServer
) -> AsyncIterator[Stack]:
    backend_port = free_port()  # Varnish needs it first; the app needs Varnish's address
    varnish = varnish_factory(backend_port)
    cfg = config(tmp_path, varnish.url)
    sleep = BackoffSleep(varnish)
    dispatcher = build_dispatcher(cfg.cdn.purgers, root_url=cfg.server.public_root, sleep=sleep)
    assert dispatcher is not None
    app = create_app(cfg, open_store, dispatcher=dispatcher)
    server = await aiohttp_server(app, port=backend_port)
    async with aiohttp.ClientSession() as session:
        app_url = str(server.make_url("/")).rstrip("/")
        yield Stack(varnish, session, app_url, dispatcher, sleep)


async def wait_for_404(stack: Stack, path: str, within: float = 2.0) -> None:
    """Poll ``path`` through Varnish until it answers 404; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        status, _ = await stack.get(path)
        if status == 404:
            return
        assert status == 200
        assert time.monotonic() < deadline, f"{path} still served {within} s after the delete"
        await asyncio.sleep(0)  # poll as fast as a client could: the latency is the point


@pytest.mark.parametrize("route", ["DELETE /api/snapshots/{key}", "GET deleteUrl"])
async def test_delete_purges_varnish(stack: Stack, route: str) -> None:
    created = await stack.create()
    key = created["key"]
    paths = [f"/api/snapshots/{key}", f"/dashboard/snapshot/{key}"]
    for path in paths:
        assert await stack.get(path) == (200, "MISS"), f"{path}: not served"
        assert await stack.get(path) == (200, "HIT"), f"{path}: not cacheable"

    if route == "GET deleteUrl":
        method, path, headers = "GET", urlsplit(created["deleteUrl"]).path, {"Host": HOST}
    else:
        method, path, headers = "DELETE", f"/api/snapshots/{key}", {**AUTH, "Host": HOST}
    async with stack.session.request(method, stack.varnish.url + path, headers=headers) as resp:
        assert resp.status == 200
        message = (await resp.json())["message"]
        assert message == "Snapshot deleted. CDN caches are being purged.", "purger not wired"
    deleted_at = time.perf_counter()

    latencies_ms = []
    for p in paths:  # the two URLs are purged concurrently, each by its own request
        await wait_for_404(stack, p)
        latencies_ms.append((time.perf_counter() - deleted_at) * 1000)
    shown = ", ".join(f"{ms:.1f}" for ms in latencies_ms)
    print(f"purge ({route}): ms from delete response to 404 via Varnish: {shown}")
    assert max(latencies_ms) < 1000


async def test_expiring_snapshot_is_never_served_after_expiry(stack: Stack) -> None:
    created = await stack.create(expires=3)
    path = f"/api/snapshots/{created['key']}"
    expires_at = time.time() + 3  # an upper bound: the server stamped it before we got here
    seen: list[tuple[float, int, str]] = []
    while time.time() < expires_at + 1.5:
        started = time.time()
        status, cache = await stack.get(path)
        seen.append((started, status, cache))
        await asyncio.sleep(0.05)
    hits = [s for s in seen if s[1] == 200 and s[2] == "HIT"]
    after = [s for s in seen if s[0] >= expires_at]
    assert hits, "Varnish never cached the snapshot, so the test proves nothing"
    assert after
    assert all(status == 404 for _, status, _ in after), after


async def test_delete_with_varnish_down_answers_at_once_and_purge_is_retried(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    created = await stack.create()
    stack.varnish.stop()
    started = time.perf_counter()
    async with stack.session.get(stack.app_url + urlsplit(created["deleteUrl"]).path) as resp:
        assert resp.status == 200
        assert (await resp.json())["message"].startswith("Snapshot deleted.")
    answered_in = time.perf_counter() - started
    # The purge runs behind the answer: 3 attempts with backoff, then a logged failure.
    async with asyncio.timeout(10):
        await stack.dispatcher.join()
    assert (stack.dispatcher.stats.failed, stack.dispatcher.stats.retried) == (2, 4)
    assert "purge failed: http[0]" in caplog.text
    assert f"{ROOT}api/snapshots/{secret_ref(created['key'])}" in caplog.text
    assert created["key"] not in caplog.text  # a view key is a capability: never logged
    assert "after 3 attempt(s)" in caplog.text
    assert answered_in < 1.0  # not held up by the unreachable cache (it retries for seconds)
    # Each of the 2 URLs backed off twice, exponentially from 0.5 s with jitter in the upper
    # half ([0.25, 0.5) then [0.5, 1.0)): asked of the injected sleep, never waited for real.
    a, b, c, d = sorted(stack.sleep.delays)
    assert 0.25 <= a <= b < 0.5 <= c <= d < 1.0


async def test_varnish_back_up_during_backoff_gets_the_retried_purge(stack: Stack) -> None:
    created = await stack.create()
    stack.varnish.stop()
    stack.sleep.bring_back = True  # the first backoff restarts it, on the same port
    async with stack.session.get(stack.app_url + urlsplit(created["deleteUrl"]).path) as resp:
        assert resp.status == 200
    async with asyncio.timeout(30):  # includes restarting varnishd
        await stack.dispatcher.join()
    stats = stack.dispatcher.stats
    assert (stats.succeeded, stats.failed, stats.retried) == (2, 0, 2)
    assert len(stack.sleep.delays) == 2
    # Varnish answered the retried PURGEs itself: it is up, and the snapshot is gone from it.
    assert await stack.get(f"/api/snapshots/{created['key']}") == (404, "MISS")
