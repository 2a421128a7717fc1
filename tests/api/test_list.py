"""GET /api/dashboard/snapshots: scoping, query, limit and page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Client, MakeClient, auth, create
from tests.support import ManualClock

ITEM_FIELDS = {
    "id",
    "name",
    "key",
    "orgId",
    "userId",
    "external",
    "passwordProtected",  # added by the sharing controls: true or false, never the hash
    "externalUrl",
    "expires",
    "created",
    "updated",
}


async def listing(client: Client, user: str | None, query: str = "") -> list[dict[str, Any]]:
    headers = auth(user) if user else {}
    response = await client.get(f"/api/dashboard/snapshots{query}", headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "private, no-store"
    data: list[dict[str, Any]] = await response.json()
    return data


async def test_items_have_exactly_the_documented_fields(client: Client) -> None:
    made = await create(client, name="Mine", expires=60)
    (item,) = await listing(client, "editor")
    assert set(item) == ITEM_FIELDS
    assert item["id"] == made["id"]
    assert item["key"] == made["key"]
    assert (item["name"], item["orgId"], item["userId"]) == ("Mine", 1, 2)
    assert item["external"] is False
    assert item["externalUrl"] == ""
    assert item["passwordProtected"] is False


async def test_scoping(client: Client) -> None:
    mine = await create(client, user="editor", name="editor's")
    theirs = await create(client, user="editor2", name="editor2's")
    other = await create(client, user="other_org", name="other org's")
    assert [i["id"] for i in await listing(client, "editor")] == [mine["id"]]
    assert [i["id"] for i in await listing(client, "editor2")] == [theirs["id"]]
    assert [i["id"] for i in await listing(client, "admin")] == [mine["id"], theirs["id"]]
    assert [i["id"] for i in await listing(client, "other_org")] == [other["id"]]
    assert await listing(client, "viewer") == []


async def test_expired_are_not_listed(client: Client, clock: ManualClock) -> None:
    await create(client, expires=10)
    keep = await create(client)
    clock.advance(10)
    assert [i["id"] for i in await listing(client, "editor")] == [keep["id"]]


async def test_query_is_case_insensitive_and_literal(client: Client) -> None:
    for name in ("CPU usage", "cpu load", "Memory", "100% full", "a_b", "axb"):
        await create(client, name=name)

    async def names(query: str) -> list[str]:
        return [i["name"] for i in await listing(client, "editor", f"?query={query}")]

    assert await names("cpu") == ["CPU usage", "cpu load"]
    assert await names("%25") == ["100% full"]
    assert await names("_") == ["a_b"]
    assert await names("") == ["CPU usage", "cpu load", "Memory", "100% full", "a_b", "axb"]


async def test_limit_and_page(client: Client) -> None:
    ids = [(await create(client))["id"] for _ in range(5)]

    async def page(limit: int, number: int) -> list[int]:
        return [i["id"] for i in await listing(client, "editor", f"?limit={limit}&page={number}")]

    assert await page(2, 1) == ids[0:2]
    assert await page(2, 2) == ids[2:4]
    assert await page(2, 3) == ids[4:5]
    assert await page(2, 4) == []
    assert [i["id"] for i in await listing(client, "editor", "?limit=5000")] == ids


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("?limit=0", "limit"),
        ("?limit=-1", "limit"),
        ("?limit=5001", "limit"),
        ("?limit=abc", "limit"),
        ("?limit=1.5", "limit"),
        ("?page=0", "page"),
        ("?page=-3", "page"),
        ("?page=x", "page"),
        # Python's int() refuses strings of over 4300 digits: once a 500, with or without a token.
        ("?page=" + "9" * 4301, "page"),
        ("?limit=" + "1" * 5000, "limit"),
        ("?page=" + "0" * 5000, "page"),
        ("?page=٣", "page"),  # ARABIC-INDIC DIGIT THREE: isdigit(), but not a page number
    ],
)
async def test_bad_limit_or_page_is_400_naming_it(client: Client, query: str, name: str) -> None:
    response = await client.get(f"/api/dashboard/snapshots{query}", headers=auth("editor"))
    assert response.status == 400
    message = (await response.json())["message"]
    assert message.startswith(f"{name} must be")


async def test_huge_page_without_a_token_is_401_not_500(client: Client) -> None:
    response = await client.get("/api/dashboard/snapshots?page=" + "9" * 4301)
    assert response.status == 401


async def test_list_without_a_token_is_401(client: Client) -> None:
    await create(client)
    response = await client.get("/api/dashboard/snapshots")
    assert response.status == 401
    assert await response.json() == {"message": "Unauthorized"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_public_mode_anonymous_list_is_empty(make_client: MakeClient) -> None:
    client = await make_client(public_mode=True)
    anonymous = await client.post("/api/snapshots", json={"dashboard": {}})
    assert anonymous.status == 200  # public mode: created as org 1, user 0
    await create(client)
    assert await listing(client, None) == []


async def test_list_with_bad_token_is_401(client: Client) -> None:
    response = await client.get("/api/dashboard/snapshots", headers={"Authorization": "Bearer x"})
    assert response.status == 401


async def test_list_never_leaks_delete_key_or_dashboard(client: Client) -> None:
    made = await create(client, dashboard={"secret": "s3cr3t"})
    response = await client.get("/api/dashboard/snapshots", headers=auth("editor"))
    text = await response.text()
    assert made["deleteKey"] not in text
    assert "s3cr3t" not in text
