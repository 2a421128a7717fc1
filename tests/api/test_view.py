"""GET /api/snapshots/{key}: the view response, its caching headers and its 404s."""

from __future__ import annotations

import pytest

from snapshot_server.clock import rfc3339
from tests.api.conftest import Client, MakeClient, auth, create
from tests.support import ManualClock

FIFTY_YEARS = 50 * 365 * 86400


async def test_view_shape(client: Client, clock: ManualClock) -> None:
    made = await create(client, dashboard={"title": "T", "panels": [{"id": 7}]}, expires=3600)
    response = await client.get(f"/api/snapshots/{made['key']}")
    assert response.status == 200
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["dashboard"] == {"title": "T", "panels": [{"id": 7}]}
    assert body["meta"] == {
        "isSnapshot": True,
        "type": "snapshot",
        "canSave": False,
        "canEdit": False,
        "canAdmin": False,
        "canStar": False,
        "canDelete": False,
        "slug": "",
        "url": "",
        "expires": rfc3339(clock() + 3600),
        "created": rfc3339(clock()),
        "updated": rfc3339(clock()),
    }


async def test_never_expiring_is_shown_as_created_plus_50_years(
    client: Client, clock: ManualClock
) -> None:
    made = await create(client)
    meta = (await (await client.get(f"/api/snapshots/{made['key']}")).json())["meta"]
    assert meta["expires"] == rfc3339(clock() + FIFTY_YEARS)
    assert meta["expires"].endswith("Z")


async def test_view_needs_no_token(client: Client) -> None:
    made = await create(client)
    assert (await client.get(f"/api/snapshots/{made['key']}")).status == 200


async def test_view_body_is_byte_identical_across_gets(client: Client) -> None:
    made = await create(client, dashboard={"b": 1, "a": [1.0, 2.5e-7]})
    first = await (await client.get(f"/api/snapshots/{made['key']}")).read()
    second = await (await client.get(f"/api/snapshots/{made['key']}")).read()
    assert first == second
    assert b'"dashboard":{"b":1,"a":[1.0,2.5e-7]}' in first


async def test_trailing_slash_is_the_same_route(client: Client) -> None:
    made = await create(client)
    response = await client.get(f"/api/snapshots/{made['key']}/")
    assert response.status == 200
    assert (await response.json())["dashboard"]["title"] == "Test dashboard"


async def test_cache_headers(make_client: MakeClient, clock: ManualClock) -> None:
    client = await make_client(cache_max_age=600)
    long = await create(client, expires=86400)
    never = await create(client)
    short = await create(client, expires=100)
    for made, max_age in ((long, 600), (never, 600), (short, 100)):
        response = await client.get(f"/api/snapshots/{made['key']}")
        assert response.headers["Cache-Control"] == f"public, max-age={max_age}"
        assert response.headers["Surrogate-Key"] == f"snapshot-{made['key']}"
        assert response.headers["Cache-Tag"] == f"snapshot-{made['key']}"
        assert response.headers["ETag"].startswith('"')
    clock.advance(99.5)  # half a second left: never cacheable beyond the expiry
    response = await client.get(f"/api/snapshots/{short['key']}")
    assert response.headers["Cache-Control"] == "public, max-age=0"


async def test_etag_and_if_none_match(client: Client) -> None:
    a = await create(client)
    b = await create(client)
    first = await client.get(f"/api/snapshots/{a['key']}")
    etag = first.headers["ETag"]
    assert etag != (await client.get(f"/api/snapshots/{b['key']}")).headers["ETag"]
    assert (await client.get(f"/api/snapshots/{a['key']}")).headers["ETag"] == etag
    for header in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        response = await client.get(f"/api/snapshots/{a['key']}", headers={"If-None-Match": header})
        assert response.status == 304, header
        assert response.headers["ETag"] == etag
        assert await response.read() == b""
    other = await client.get(f"/api/snapshots/{a['key']}", headers={"If-None-Match": '"other"'})
    assert other.status == 200


async def test_expired_is_404_before_any_cleanup(client: Client, clock: ManualClock) -> None:
    made = await create(client, expires=60)
    clock.advance(59)
    assert (await client.get(f"/api/snapshots/{made['key']}")).status == 200
    clock.advance(1)
    response = await client.get(f"/api/snapshots/{made['key']}")
    assert response.status == 404
    assert await response.json() == {"message": "Snapshot not found"}
    response = await client.get(f"/api/snapshots-delete/{made['deleteKey']}")
    assert response.status == 404


async def test_unknown_key_is_404(client: Client) -> None:
    response = await client.get("/api/snapshots/doesnotexist")
    assert response.status == 404
    assert response.content_type == "application/json"
    assert await response.json() == {"message": "Snapshot not found"}


async def test_delete_key_is_not_a_view_key(client: Client) -> None:
    made = await create(client)
    response = await client.get(f"/api/snapshots/{made['deleteKey']}")
    assert response.status == 404
    assert await response.json() == {"message": "Snapshot not found"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/snapshots/",
        "/api/snapshots",
        "/api/snapshots/%20",
        "/api/snapshots/%20/",
        "/api/snapshots/*",
        "/api/snapshots/%25",
        "/api/snapshots/..%2F",
        "/api/snapshots/abc%0A",
    ],
)
async def test_empty_or_odd_key_segments_never_match(client: Client, path: str) -> None:
    await create(client)
    response = await client.get(path)
    assert response.status == 404
    assert await response.json() == {"message": "Snapshot not found"}


async def test_bad_token_is_401_even_where_none_is_needed(client: Client) -> None:
    made = await create(client)
    for header in ("Bearer wrong", "Basic YWRtaW46YWRtaW4=", "Bearer", "garbage"):
        response = await client.get(
            f"/api/snapshots/{made['key']}", headers={"Authorization": header}
        )
        assert response.status == 401, header
        assert await response.json() == {"message": "Unauthorized"}


async def test_view_requires_auth(make_client: MakeClient) -> None:
    client = await make_client(view_requires_auth=True)
    made = await create(client)
    assert (await client.get(f"/api/snapshots/{made['key']}")).status == 401
    response = await client.get(f"/api/snapshots/{made['key']}", headers=auth("viewer"))
    assert response.status == 200
    assert response.headers["Cache-Control"] == "private, no-store"
