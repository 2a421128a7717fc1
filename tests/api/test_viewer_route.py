"""GET /dashboard/snapshot/{key}: the page a person opens. Same permissions, expiry and cache
rules as the JSON route; errors are HTML pages (the browser suite checks what is drawn)."""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

import pytest
from aiohttp import ClientResponse

from snapshot_server.models import Snapshot
from snapshot_server.viewer import render_snapshot_page
from snapshot_server.viewer.page import PageRenderer, RenderCache
from snapshot_server.webapp.appkeys import RENDERER
from tests.api.conftest import Client, MakeClient, auth, create
from tests.support import ManualClock, until
from tests.viewer.dashboards import make_snapshot


async def test_page_shows_the_snapshot_with_strict_headers(client: Client) -> None:
    made = await create(client, dashboard={"title": "<b>Prod</b> & co", "panels": []})
    response = await client.get(f"/dashboard/snapshot/{made['key']}")
    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    assert "&lt;b&gt;Prod&lt;/b&gt; &amp; co" in page
    assert "<b>Prod</b>" not in page
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]
    assert f'nonce="{nonce}"' in page
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert response.headers["Surrogate-Key"] == f"snapshot-{made['key']}"


async def test_page_etag_differs_from_json_and_answers_304(client: Client) -> None:
    made = await create(client)
    page = await client.get(f"/dashboard/snapshot/{made['key']}")
    data = await client.get(f"/api/snapshots/{made['key']}")
    etag = page.headers["ETag"]
    assert etag != data.headers["ETag"]
    again = await client.get(f"/dashboard/snapshot/{made['key']}/", headers={"If-None-Match": etag})
    assert again.status == 304


async def test_page_max_age_never_passes_expiry(client: Client, clock: ManualClock) -> None:
    made = await create(client, expires=120)
    clock.advance(100)
    response = await client.get(f"/dashboard/snapshot/{made['key']}")
    assert response.headers["Cache-Control"] == "public, max-age=20"


@pytest.mark.parametrize("path", ["/dashboard/snapshot/nope", "/dashboard/snapshot/%20"])
async def test_unknown_key_is_an_html_404(client: Client, path: str) -> None:
    response = await client.get(path)
    assert response.status == 404
    assert response.content_type == "text/html"
    assert "Snapshot not found" in await response.text()
    assert response.headers["Cache-Control"] == "no-store"


async def test_expired_and_deleted_are_html_404(client: Client, clock: ManualClock) -> None:
    expiring = await create(client, expires=10)
    deleted = await create(client)
    assert (await client.get(f"/dashboard/snapshot/{expiring['key']}")).status == 200
    await client.get(f"/api/snapshots-delete/{deleted['deleteKey']}")
    clock.advance(10)
    for made in (expiring, deleted):
        response = await client.get(f"/dashboard/snapshot/{made['key']}")
        assert response.status == 404
        assert "Snapshot not found" in await response.text()


async def test_delete_key_does_not_open_the_page(client: Client) -> None:
    made = await create(client)
    response = await client.get(f"/dashboard/snapshot/{made['deleteKey']}")
    assert response.status == 404


async def test_disabled_is_an_html_403(make_client: MakeClient) -> None:
    client = await make_client(enabled=False)
    response = await client.get("/dashboard/snapshot/anything")
    assert response.status == 403
    assert response.content_type == "text/html"
    assert "Dashboard Snapshots are disabled" in await response.text()


async def test_view_requires_auth_applies_to_the_page(make_client: MakeClient) -> None:
    client = await make_client(view_requires_auth=True)
    made = await create(client)
    response = await client.get(f"/dashboard/snapshot/{made['key']}")
    assert response.status == 401
    assert response.content_type == "text/html"
    signed_in = await client.get(f"/dashboard/snapshot/{made['key']}", headers=auth("viewer"))
    assert signed_in.status == 200
    assert signed_in.headers["Cache-Control"] == "private, no-store"


async def test_static_assets_are_served_and_long_cached(client: Client) -> None:
    made = await create(client)
    page = await (await client.get(f"/dashboard/snapshot/{made['key']}")).text()
    href = page.split('href="/public/snapshot-viewer/', 1)[1].split('"', 1)[0]
    response = await client.get(f"/public/snapshot-viewer/{href}")
    assert response.status == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert (await client.get("/public/snapshot-viewer/nothing.js")).status == 404


async def test_every_response_gets_its_own_nonce(client: Client) -> None:
    made = await create(client)
    nonces = []
    for _ in range(2):  # the second is served from the render cache
        response = await client.get(f"/dashboard/snapshot/{made['key']}")
        csp = response.headers["Content-Security-Policy"]
        nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]
        assert f'nonce="{nonce}"' in await response.text()
        nonces.append(nonce)
    assert nonces[0] != nonces[1]


class GatedRender:
    """The real ``render_snapshot_page``, counting its calls and held in its worker thread until
    the test opens ``gate``; ``fail`` makes the held calls raise instead."""

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail
        self.gate = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, snapshot: Snapshot, **options: Any) -> str:
        with self._lock:
            self.calls += 1
        if not self.gate.wait(timeout=30):
            raise TimeoutError("the test never opened the gate")
        if self.fail:
            raise RuntimeError("render failed")
        return render_snapshot_page(snapshot, **options)


def without_nonce(page: str) -> str:
    return re.sub(r'nonce="[^"]*"', 'nonce=""', page)


async def first_views(
    client: Client, count: int, render: GatedRender
) -> tuple[str, list[ClientResponse]]:
    """``count`` concurrent first views of a new snapshot's page, answered once every one of
    them is either rendering or waiting for the first one's render; its URL and the answers."""
    made = await create(client)
    renderer = client.app[RENDERER]
    renderer.render = render
    url = f"/dashboard/snapshot/{made['key']}"
    views = [asyncio.create_task(client.get(url)) for _ in range(count)]
    await until(lambda: render.calls > 1 or renderer.joined == count - 1)
    render.gate.set()
    return url, await asyncio.gather(*views)


async def test_concurrent_first_views_share_one_render(client: Client) -> None:
    render = GatedRender()
    url, responses = await first_views(client, 5, render)
    assert render.calls == 1
    assert [r.status for r in responses] == [200] * 5
    pages = {without_nonce(await r.text()) for r in responses}
    assert len(pages) == 1
    assert len({r.headers["Content-Security-Policy"] for r in responses}) == 5
    again = await client.get(url)  # from the render cache
    assert again.status == 200
    assert render.calls == 1


async def test_a_failed_render_is_not_kept(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    render = GatedRender(fail=True)
    url, responses = await first_views(client, 3, render)
    assert render.calls == 1
    for response in responses:
        assert response.status == 500
        assert response.content_type == "text/html"
        assert "Internal server error" in await response.text()
    assert "render failed" in caplog.text
    render.fail = False
    retried = await client.get(url)
    assert retried.status == 200
    assert render.calls == 2


async def test_at_most_two_renders_run_at_once(client: Client) -> None:
    keys = [(await create(client))["key"] for _ in range(3)]
    renderer = client.app[RENDERER]
    render = renderer.render = GatedRender()
    views = [asyncio.create_task(client.get(f"/dashboard/snapshot/{key}")) for key in keys]

    def settled() -> bool:
        # A render counts as running before its thread calls ``render``: wait for both calls.
        return renderer.running == 2 and renderer.queued == 1 and render.calls == 2

    await until(lambda: render.calls > 2 or settled())
    assert render.calls == 2
    render.gate.set()
    responses = await asyncio.gather(*views)
    assert [r.status for r in responses] == [200] * 3
    assert render.calls == 3
    assert (renderer.running, renderer.queued) == (0, 0)


async def test_a_viewer_who_leaves_does_not_cancel_the_render() -> None:
    render = GatedRender()
    renderer = PageRenderer(RenderCache(1 << 20), 2, render)
    snapshot = make_snapshot({"title": "Left early", "panels": []})
    etag = '"e-html"'
    waiter = asyncio.create_task(renderer.page(snapshot, etag))
    await until(lambda: render.calls == 1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    render.gate.set()
    await until(lambda: renderer.cache.get(etag) is not None)
    page, _placeholder = await renderer.page(snapshot, etag)
    assert b"Left early" in page
    assert render.calls == 1
