"""POST /api/snapshots/{key}/rotate on every backend: a new key that works with the same
deleteKey, the old key gone at once or after its grace (on the manual clock), the old URLs
purged, protection kept, owners only, bad bodies refused, external snapshots refused."""

from __future__ import annotations

import asyncio
import dataclasses

from snapshot_server.models import NewSnapshot
from snapshot_server.purge.recording import RecordingPurger
from snapshot_server.webapp.appkeys import PURGER, STORE
from tests.api.conftest import ROOT_URL, Client, auth, create
from tests.api.sharing_support import (
    access_cookie,
    make_sharing,
    protected,
    purger,
    sharing_client,
    with_password,
)
from tests.support import ManualClock, new_record

__all__ = ["make_sharing", "purger", "sharing_client"]  # fixtures


async def rotate(
    client: Client, key: str, user: str = "editor", **body: object
) -> dict[str, object]:
    response = await client.post(f"/api/snapshots/{key}/rotate", json=body, headers=auth(user))
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "private, no-store"
    data: dict[str, object] = await response.json()
    return data


async def test_a_new_key_the_old_one_gone_at_once_the_same_delete_key(
    sharing_client: Client,
) -> None:
    made = await create(sharing_client)
    rotated = await rotate(sharing_client, made["key"])
    assert set(rotated) == {"key", "url", "id"}
    assert rotated["id"] == made["id"]
    assert rotated["key"] != made["key"]
    assert rotated["url"] == f"{ROOT_URL}dashboard/snapshot/{rotated['key']}"
    for path in (f"/api/snapshots/{made['key']}", f"/dashboard/snapshot/{made['key']}"):
        assert (await sharing_client.get(path)).status == 404
    assert (await sharing_client.get(f"/api/snapshots/{rotated['key']}")).status == 200
    deleted = await sharing_client.get(f"/api/snapshots-delete/{made['deleteKey']}")
    assert (deleted.status, (await deleted.json())["id"]) == (200, made["id"])
    assert (await sharing_client.get(f"/api/snapshots/{rotated['key']}")).status == 404


async def test_the_old_key_works_until_the_grace_ends(
    sharing_client: Client, clock: ManualClock
) -> None:
    made = await create(sharing_client, expires=0)
    rotated = await rotate(sharing_client, made["key"], graceSeconds=300)
    clock.advance(299)
    old = await sharing_client.get(f"/api/snapshots/{made['key']}")
    assert old.status == 200
    # Its end is a time no cache knows: nobody may keep it.
    assert old.headers["Cache-Control"] == "private, no-store"
    page = await sharing_client.get(f"/dashboard/snapshot/{made['key']}")
    assert (page.status, page.headers["Cache-Control"]) == (200, "private, no-store")
    clock.advance(1)
    for path in (f"/api/snapshots/{made['key']}", f"/dashboard/snapshot/{made['key']}"):
        assert (await sharing_client.get(path)).status == 404
    assert (await sharing_client.get(f"/api/snapshots/{rotated['key']}")).status == 200


async def test_the_etag_changes_with_the_answer(sharing_client: Client, clock: ManualClock) -> None:
    """A rotation changes the answer (its updated time): a client revalidating the old URL
    during the grace must get the new answer, not a 304 that keeps the old one."""
    made = await create(sharing_client, expires=0)
    before = await sharing_client.get(f"/api/snapshots/{made['key']}")
    etag = before.headers["ETag"]
    clock.advance(10)
    rotated = await rotate(sharing_client, made["key"], graceSeconds=300)
    for key in (made["key"], rotated["key"]):
        again = await sharing_client.get(f"/api/snapshots/{key}", headers={"If-None-Match": etag})
        assert again.status == 200
        assert again.headers["ETag"] != etag
        assert (await again.json())["meta"]["updated"] != (await before.json())["meta"]["updated"]
    page = await sharing_client.get(f"/dashboard/snapshot/{rotated['key']}")
    assert page.headers["ETag"] != etag[:-1] + '-html"'


async def test_the_old_urls_are_purged(sharing_client: Client, purger: RecordingPurger) -> None:
    made = await create(sharing_client)
    await rotate(sharing_client, made["key"], graceSeconds=60)
    dispatcher = sharing_client.app[PURGER]
    assert dispatcher is not None
    async with asyncio.timeout(5):
        await dispatcher.join()
    (event,) = purger.purged
    assert (event.key, event.reason) == (made["key"], "rotate")
    assert event.urls == (
        f"{ROOT_URL}api/snapshots/{made['key']}",
        f"{ROOT_URL}dashboard/snapshot/{made['key']}",
    )


async def test_a_protected_snapshot_stays_protected_and_needs_the_password_again(
    sharing_client: Client,
) -> None:
    key = (await protected(sharing_client))["key"]
    cookie = {"Cookie": f"snapshot_access={await access_cookie(sharing_client, key)}"}
    new_key = (await rotate(sharing_client, key))["key"]
    assert (await sharing_client.get(f"/api/snapshots/{new_key}")).status == 401
    # The cookie was granted for the old key: rotating is how access is revoked.
    assert (await sharing_client.get(f"/api/snapshots/{new_key}", headers=cookie)).status == 401
    response = await sharing_client.get(f"/api/snapshots/{new_key}", headers=with_password())
    assert (response.status, response.headers["Cache-Control"]) == (200, "private, no-store")


async def test_only_the_creator_or_an_org_admin_may_rotate(sharing_client: Client) -> None:
    key = (await create(sharing_client))["key"]
    for user, status in (("editor2", 403), ("viewer", 403), ("other_org", 404)):
        response = await sharing_client.post(f"/api/snapshots/{key}/rotate", headers=auth(user))
        assert response.status == status
    anonymous = await sharing_client.post(f"/api/snapshots/{key}/rotate")
    assert anonymous.status == 401
    assert (await sharing_client.get(f"/api/snapshots/{key}")).status == 200  # unchanged
    assert (await rotate(sharing_client, key, user="admin"))["key"] != key


async def test_bad_bodies_are_400_and_change_nothing(sharing_client: Client) -> None:
    key = (await create(sharing_client))["key"]
    bodies = (
        {"graceSeconds": -1},
        {"graceSeconds": 604801},
        {"graceSeconds": "60"},
        {"graceSeconds": 1.5},
        {"graceSeconds": True},
        {"grace": 60},
        [60],
    )
    for body in bodies:
        response = await sharing_client.post(
            f"/api/snapshots/{key}/rotate", json=body, headers=auth("editor")
        )
        assert response.status == 400, body
        assert "message" in await response.json()
    malformed = await sharing_client.post(
        f"/api/snapshots/{key}/rotate", data=b"{", headers=auth("editor")
    )
    assert malformed.status == 400
    assert (await sharing_client.get(f"/api/snapshots/{key}")).status == 200
    # No body at all is no grace.
    empty = await sharing_client.post(f"/api/snapshots/{key}/rotate", headers=auth("editor"))
    assert empty.status == 200


async def test_unknown_keys_are_404(sharing_client: Client) -> None:
    for key in ("nope", "bad key!"):
        response = await sharing_client.post(f"/api/snapshots/{key}/rotate", headers=auth("editor"))
        assert response.status == 404


async def test_an_external_snapshot_cannot_be_rotated_or_patched(
    sharing_client: Client, clock: ManualClock
) -> None:
    record = new_record(clock(), user_id=2, dashboard=b"")
    meta = dataclasses.replace(
        record.meta, external=True, external_url="https://remote.example.test/dashboard/snapshot/x"
    )
    stored = await sharing_client.app[STORE].insert(NewSnapshot(meta, b""))
    rotated = await sharing_client.post(
        f"/api/snapshots/{stored.key}/rotate", headers=auth("editor")
    )
    patched = await sharing_client.patch(
        f"/api/snapshots/{stored.key}", json={"name": "x"}, headers=auth("editor")
    )
    for response in (rotated, patched):
        assert response.status == 409
        assert "external" in (await response.json())["message"]
    assert (await sharing_client.app[STORE].get(stored.key, clock())).meta == stored
