"""GET /dashboard/snapshot/{key}: the page a person opens. Same permissions, expiry and cache
rules as the JSON route; errors are HTML pages (the browser suite checks what is drawn)."""

from __future__ import annotations

import pytest

from tests.api.conftest import Client, MakeClient, auth, create
from tests.support import ManualClock


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
