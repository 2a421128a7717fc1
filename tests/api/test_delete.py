"""DELETE /api/snapshots/{key} and GET /api/snapshots-delete/{deleteKey}."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.conftest import Client, MakeClient, auth, create
from tests.support import ManualClock

DELETED = "Snapshot deleted. It might take an hour before it's cleared from any CDN caches."


async def test_creator_deletes_by_key(client: Client) -> None:
    made = await create(client, user="editor")
    response = await client.delete(f"/api/snapshots/{made['key']}", headers=auth("editor"))
    assert response.status == 200
    assert await response.json() == {"message": DELETED, "id": made["id"]}
    assert response.headers["Cache-Control"] == "no-store"
    assert (await client.get(f"/api/snapshots/{made['key']}")).status == 404
    again = await client.delete(f"/api/snapshots/{made['key']}", headers=auth("editor"))
    assert again.status == 404


async def test_admin_of_the_org_deletes_anyones(client: Client) -> None:
    made = await create(client, user="editor")
    response = await client.delete(f"/api/snapshots/{made['key']}/", headers=auth("admin"))
    assert response.status == 200


@pytest.mark.parametrize(
    ("user", "status", "message"),
    [
        ("other_org", 404, "Snapshot not found"),  # another org's snapshot does not exist
        ("editor2", 403, "Access denied to this snapshot"),  # same org, not the creator
    ],
)
async def test_only_the_creator_or_an_org_admin_deletes_and_nothing_else_is_lost(
    client: Client, user: str, status: int, message: str
) -> None:
    made = await create(client, user="editor")
    response = await client.delete(f"/api/snapshots/{made['key']}", headers=auth(user))
    assert response.status == status
    assert await response.json() == {"message": message}
    assert (await client.get(f"/api/snapshots/{made['key']}")).status == 200


async def test_viewer_lacks_the_delete_scope(client: Client) -> None:
    made = await create(client)
    response = await client.delete(f"/api/snapshots/{made['key']}", headers=auth("viewer"))
    assert response.status == 403
    assert await response.json() == {"message": "forbidden"}


async def test_delete_by_key_needs_a_token(client: Client) -> None:
    made = await create(client)
    response = await client.delete(f"/api/snapshots/{made['key']}")
    assert response.status == 401
    assert (await client.get(f"/api/snapshots/{made['key']}")).status == 200


async def test_delete_by_key_with_bad_token_is_401(client: Client) -> None:
    made = await create(client)
    response = await client.delete(
        f"/api/snapshots/{made['key']}", headers={"Authorization": "Bearer nope"}
    )
    assert response.status == 401


async def test_delete_key_is_not_a_view_key_for_delete(client: Client) -> None:
    made = await create(client)
    response = await client.delete(f"/api/snapshots/{made['deleteKey']}", headers=auth("admin"))
    assert response.status == 404


async def test_delete_by_delete_key_needs_no_token(client: Client) -> None:
    made = await create(client)
    response = await client.get(f"/api/snapshots-delete/{made['deleteKey']}")
    assert response.status == 200
    body = await response.json()
    assert body == {"message": DELETED, "id": made["id"]}
    assert body["message"].startswith("Snapshot deleted.")
    assert response.headers["Cache-Control"] == "no-store"
    assert (await client.get(f"/api/snapshots/{made['key']}")).status == 404
    assert (await client.get(f"/api/snapshots-delete/{made['deleteKey']}")).status == 404


async def test_delete_by_delete_key_trailing_slash(client: Client) -> None:
    made = await create(client)
    assert (await client.get(f"/api/snapshots-delete/{made['deleteKey']}/")).status == 200


async def test_view_key_is_not_a_delete_key(client: Client) -> None:
    made = await create(client)
    response = await client.get(f"/api/snapshots-delete/{made['key']}")
    assert response.status == 404
    assert await response.json() == {"message": "Snapshot not found"}
    assert (await client.get(f"/api/snapshots/{made['key']}")).status == 200


@pytest.mark.parametrize(
    "path",
    ["/api/snapshots-delete/", "/api/snapshots-delete", "/api/snapshots-delete/%20"],
)
async def test_empty_delete_key_never_matches(client: Client, path: str) -> None:
    made = await create(client)
    response = await client.get(path)
    assert response.status == 404
    assert await response.json() == {"message": "Snapshot not found"}
    assert (await client.get(f"/api/snapshots/{made['key']}")).status == 200


async def test_empty_key_delete_never_matches(client: Client) -> None:
    made = await create(client)
    for path in ("/api/snapshots/", "/api/snapshots", "/api/snapshots/%20"):
        response = await client.delete(path, headers=auth("admin"))
        assert response.status == 404, path
    assert (await client.get(f"/api/snapshots/{made['key']}")).status == 200


async def test_expired_cannot_be_deleted_by_key(client: Client, clock: ManualClock) -> None:
    made = await create(client, expires=10)
    clock.advance(10)
    response = await client.delete(f"/api/snapshots/{made['key']}", headers=auth("editor"))
    assert response.status == 404


async def test_grafana_external_compat_answers_grafanas_500(make_client: MakeClient) -> None:
    client = await make_client(public_mode=True, grafana_external_compat=True)
    for path in ("/api/snapshots-delete/unknownkey", "/api/snapshots-delete/"):
        response = await client.get(path)
        assert response.status == 500
        assert await response.json() == {"message": "Failed to get dashboard snapshot"}
    made = await create(client)
    assert (await client.get(f"/api/snapshots-delete/{made['deleteKey']}")).status == 200


async def test_concurrent_deletes_succeed_once(client: Client) -> None:
    made = await create(client)
    responses = await asyncio.gather(
        *(client.get(f"/api/snapshots-delete/{made['deleteKey']}") for _ in range(5))
    )
    assert sorted(r.status for r in responses) == [200, 404, 404, 404, 404]


@pytest.mark.parametrize("path", ["/api/snapshots-delete/{}", "/api/snapshots-delete/{}/"])
async def test_head_on_the_delete_link_never_deletes(client: Client, path: str) -> None:
    # Link checkers and mail scanners send HEAD to the links they find, because HEAD is safe.
    made = await create(client)
    response = await client.head(path.format(made["deleteKey"]))
    assert response.status == 405
    assert response.headers["Allow"] == "GET"
    assert (await client.get(f"/api/snapshots/{made['key']}")).status == 200


async def test_head_is_answered_where_get_is_safe(client: Client) -> None:
    made = await create(client)
    view = await client.head(f"/api/snapshots/{made['key']}")
    assert view.status == 200
    assert view.headers["ETag"]
    assert (await client.head("/api/health")).status == 200
    assert (await client.get(f"/api/snapshots/{made['key']}")).status == 200
