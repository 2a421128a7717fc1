"""PATCH /api/snapshots/{key} on every backend: name, expiry (shortened: 404 at once) and
password (set, removed), the answer shaped as a list item, owners only (a refusal changes
nothing), bad bodies refused, caches purged, and a grace alias resolved."""

from __future__ import annotations

import asyncio
from typing import Any

from snapshot_server.clock import rfc3339
from snapshot_server.purge.recording import RecordingPurger
from snapshot_server.webapp.appkeys import PURGER, STORE
from tests.api.conftest import Client, auth, create
from tests.api.sharing_support import (
    PASSWORD,
    MakeSharing,
    make_sharing,
    protected,
    purger,
    sharing_client,
    with_password,
)
from tests.support import ManualClock

__all__ = ["make_sharing", "purger", "sharing_client"]  # fixtures

LIST_FIELDS = {
    "id", "name", "key", "orgId", "userId", "external", "externalUrl", "expires", "created",
    "updated", "passwordProtected",
}  # fmt: skip


async def patch(
    client: Client, key: str, body: Any, user: str = "editor", status: int = 200
) -> Any:
    response = await client.patch(f"/api/snapshots/{key}", json=body, headers=auth(user))
    assert response.status == status, await response.text()
    return await response.json()


async def listed(client: Client) -> list[dict[str, Any]]:
    response = await client.get("/api/dashboard/snapshots", headers=auth("admin"))
    items: list[dict[str, Any]] = await response.json()
    return items


async def test_rename_changes_the_name_and_updated_only(
    sharing_client: Client, clock: ManualClock
) -> None:
    made = await create(sharing_client, name="Before", expires=3600)
    (before,) = await listed(sharing_client)
    clock.advance(10)
    after = await patch(sharing_client, made["key"], {"name": "After"})
    assert set(after) == LIST_FIELDS
    assert after["name"] == "After"
    assert after["updated"] == rfc3339(clock())
    unchanged = ("id", "key", "orgId", "userId", "created", "expires", "passwordProtected")
    assert {f: after[f] for f in unchanged} == {f: before[f] for f in unchanged}
    assert await listed(sharing_client) == [after]
    view = await (await sharing_client.get(f"/api/snapshots/{made['key']}")).json()
    assert view["meta"]["updated"] == rfc3339(clock())
    # An empty name is the default name, as on create.
    assert (await patch(sharing_client, made["key"], {"name": ""}))["name"] == "Unnamed snapshot"


async def test_shortening_the_expiry_makes_it_404_at_once(
    sharing_client: Client, clock: ManualClock
) -> None:
    made = await create(sharing_client)  # never expires
    etag = (await sharing_client.get(f"/api/snapshots/{made['key']}")).headers["ETag"]
    answer = await patch(sharing_client, made["key"], {"expires": 10})
    assert answer["expires"] == rfc3339(clock() + 10)
    response = await sharing_client.get(f"/api/snapshots/{made['key']}")
    assert response.headers["ETag"] != etag  # the answer changed: so does its validator
    assert response.headers["Cache-Control"] == "public, max-age=10"
    clock.advance(10)  # no cleanup has run
    for path in (f"/api/snapshots/{made['key']}", f"/dashboard/snapshot/{made['key']}"):
        assert (await sharing_client.get(path)).status == 404
    assert await listed(sharing_client) == []


async def test_expires_zero_means_never_and_the_limits_hold(make_sharing: MakeSharing) -> None:
    client = await make_sharing(max_expires=3600)
    made = await create(client, expires=60)
    data = await patch(client, made["key"], {"expires": 3601}, status=400)
    assert "max_expires" in data["message"]
    # 0 is "never", which max_expires turns into its own limit, as on create.
    answer = await patch(client, made["key"], {"expires": 0})
    stored = await client.app[STORE].get(made["key"], 0)
    assert stored.meta.expires == stored.meta.updated + 3600
    assert answer["expires"] == rfc3339(stored.meta.expires)


async def test_expires_zero_makes_it_never_expire(
    sharing_client: Client, clock: ManualClock
) -> None:
    made = await create(sharing_client, expires=60)
    answer = await patch(sharing_client, made["key"], {"expires": 0})
    stored = await sharing_client.app[STORE].get(made["key"], clock())
    assert stored.meta.expires is None
    assert answer["expires"] == rfc3339(stored.meta.created + 50 * 365 * 86400)
    clock.advance(61)
    assert (await sharing_client.get(f"/api/snapshots/{made['key']}")).status == 200


async def test_set_and_remove_a_password(sharing_client: Client) -> None:
    key = (await create(sharing_client))["key"]
    answer = await patch(sharing_client, key, {"password": PASSWORD})
    assert answer["passwordProtected"] is True
    assert (await sharing_client.get(f"/api/snapshots/{key}")).status == 401
    assert (
        await sharing_client.get(f"/api/snapshots/{key}", headers=with_password())
    ).status == 200
    changed = await patch(sharing_client, key, {"password": "another one"})
    assert changed["passwordProtected"] is True
    assert (
        await sharing_client.get(f"/api/snapshots/{key}", headers=with_password())
    ).status == 401
    removed = await patch(sharing_client, key, {"password": None})
    assert removed["passwordProtected"] is False
    response = await sharing_client.get(f"/api/snapshots/{key}")
    assert response.status == 200
    assert response.headers["Cache-Control"].startswith("public, max-age=")


async def test_a_non_owner_is_refused_and_nothing_changes(
    sharing_client: Client, clock: ManualClock
) -> None:
    key = (await protected(sharing_client, name="Mine"))["key"]
    before = await sharing_client.app[STORE].get(key, clock())
    clock.advance(5)
    for user, status in (("editor2", 403), ("viewer", 403), ("other_org", 404)):
        body = {"name": "Theirs", "expires": 1, "password": None}
        await patch(sharing_client, key, body, user=user, status=status)
    anonymous = await sharing_client.patch(f"/api/snapshots/{key}", json={"name": "x"})
    assert anonymous.status == 401
    assert await sharing_client.app[STORE].get(key, clock()) == before
    # An org Admin may.
    assert (await patch(sharing_client, key, {"name": "Admin's"}, user="admin"))[
        "name"
    ] == "Admin's"


async def test_bad_bodies_are_400_naming_the_field_and_change_nothing(
    sharing_client: Client, clock: ManualClock
) -> None:
    key = (await create(sharing_client, name="Kept"))["key"]
    before = await sharing_client.app[STORE].get(key, clock())
    cases: list[tuple[Any, str]] = [
        ({}, "nothing to change"),
        ({"title": "x"}, "title"),
        ({"name": "x", "key": "y"}, "key"),
        ({"name": 5}, "name"),
        ({"name": None}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"expires": "60"}, "expires"),
        ({"expires": 1.5}, "expires"),
        ({"expires": True}, "expires"),
        ({"password": "short"}, "password"),
        ({"password": 12345678}, "password"),
        ({"name": "ok", "password": "short"}, "password"),
        ([], "bad request data"),
    ]
    for body, named in cases:
        data = await patch(sharing_client, key, body, status=400)
        assert named in data["message"], body
    raw = await sharing_client.patch(f"/api/snapshots/{key}", data=b"{", headers=auth("editor"))
    assert raw.status == 400
    assert await sharing_client.app[STORE].get(key, clock()) == before


async def test_updates_are_purged(sharing_client: Client, purger: RecordingPurger) -> None:
    key = (await create(sharing_client))["key"]
    await patch(sharing_client, key, {"name": "renamed"})
    dispatcher = sharing_client.app[PURGER]
    assert dispatcher is not None
    async with asyncio.timeout(5):
        await dispatcher.join()
    assert [(e.key, e.reason) for e in purger.purged] == [(key, "update")]


async def test_a_grace_alias_names_the_snapshot_it_points_at(
    sharing_client: Client, clock: ManualClock
) -> None:
    made = await create(sharing_client)
    response = await sharing_client.post(
        f"/api/snapshots/{made['key']}/rotate", json={"graceSeconds": 60}, headers=auth("editor")
    )
    new_key = (await response.json())["key"]
    answer = await patch(sharing_client, made["key"], {"name": "via the old key"})
    assert (answer["key"], answer["name"]) == (new_key, "via the old key")
    # And so does DELETE by key.
    deleted = await sharing_client.delete(f"/api/snapshots/{made['key']}", headers=auth("editor"))
    assert deleted.status == 200
    assert (await sharing_client.get(f"/api/snapshots/{new_key}")).status == 404
