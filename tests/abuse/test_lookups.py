"""Rate limits that make guessing slow: lookups of unknown keys (JSON and the viewer page) and
deletes by deleteKey, per client address; the client address behind a trusted proxy."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientResponse

from snapshot_server.abuse import rates
from snapshot_server.webapp.appkeys import RATE_LIMITS
from tests.abuse.conftest import MakeApp
from tests.abuse.test_creates import assert_limited
from tests.api.conftest import Client, auth, create
from tests.support import ManualClock

UNKNOWN = "Too many lookups of unknown snapshots: the limit is 3 per 1 hour from one address"


async def view(
    client: Client, key: str, page: bool = False, headers: dict[str, str] | None = None
) -> ClientResponse:
    path = f"/dashboard/snapshot/{key}" if page else f"/api/snapshots/{key}"
    return await client.get(path, headers=headers or {})


async def test_only_misses_count_and_then_every_lookup_is_refused(make_app: MakeApp) -> None:
    client = await make_app(unknown_keys_per_address="3/hour")
    key = (await create(client))["key"]
    for _ in range(10):  # views of a snapshot that exists are never counted
        assert (await view(client, key)).status == 200
    for guess in ("nope1", "nope2", "nope3"):
        assert (await view(client, guess)).status == 404
    await assert_limited(await view(client, "nope4"), UNKNOWN, 3600)
    # Over the limit, a hit is refused too: guessing cannot go on between hits.
    await assert_limited(await view(client, key), UNKNOWN, 3600)
    page = await view(client, key, page=True)
    assert page.status == 429
    assert page.content_type == "text/html"
    assert int(page.headers["Retry-After"]) >= 1
    assert "Try again" in await page.text()


async def test_misses_on_the_viewer_page_count_too(make_app: MakeApp) -> None:
    client = await make_app(unknown_keys_per_address="3/hour")
    for guess in ("nope1", "nope2", "nope3"):
        assert (await view(client, guess, page=True)).status == 404
    await assert_limited(await view(client, "nope4"), UNKNOWN, 3600)


async def test_lookups_are_allowed_again_once_the_window_has_moved_on(
    make_app: MakeApp, window_clock: ManualClock
) -> None:
    client = await make_app(unknown_keys_per_address="2/minute")
    key = (await create(client))["key"]
    assert (await view(client, "nope1")).status == 404
    window_clock.advance(30)
    assert (await view(client, "nope2")).status == 404
    refused = await view(client, "nope3")
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "31"
    window_clock.advance(30)
    assert (await view(client, key)).status == 429  # still within the refusal
    window_clock.advance(1)
    assert (await view(client, key)).status == 200
    assert (await view(client, "nope4")).status == 404  # the first miss has left the window
    assert (await view(client, "nope5")).status == 429


async def test_without_limits_nothing_is_counted(make_app: MakeApp) -> None:
    client = await make_app(enabled=False, unknown_keys_per_address="1/hour")
    for _ in range(5):
        assert (await view(client, "nope")).status == 404


async def test_deletes_by_delete_key_count_every_attempt(make_app: MakeApp) -> None:
    client = await make_app(deletes_per_address="3/hour")
    created = await create(client)
    for guess in ("nope1", "nope2"):
        assert (await client.get(f"/api/snapshots-delete/{guess}")).status == 404
    assert (await client.get(f"/api/snapshots-delete/{created['deleteKey']}")).status == 200
    second = await create(client)
    await assert_limited(
        await client.get(f"/api/snapshots-delete/{second['deleteKey']}"),
        "Too many deletes by deleteKey: the limit is 3 per 1 hour from one address",
        3600,
    )
    # The refused delete deleted nothing.
    assert (await view(client, second["key"])).status == 200
    # Deletes with a token are not deleteKey guesses: not counted.
    response = await client.delete(f"/api/snapshots/{second['key']}", headers=auth("editor"))
    assert response.status == 200


async def test_forwarded_for_is_ignored_without_trusted_proxies(make_app: MakeApp) -> None:
    client = await make_app(public_mode=True, creates_per_address="2/hour")
    for address in ("198.51.100.1", "198.51.100.2"):
        assert (await post_from(client, address)).status == 200
    assert (await post_from(client, "198.51.100.3")).status == 429  # all are 127.0.0.1


@pytest.mark.parametrize("proxies", [["127.0.0.1"], ["127.0.0.0/8", "::1"]])
async def test_forwarded_for_is_believed_from_trusted_proxies(
    make_app: MakeApp, proxies: list[str]
) -> None:
    client = await make_app(
        public_mode=True, creates_per_address="2/hour", trusted_proxies=tuple(proxies)
    )
    for _ in range(2):
        assert (await post_from(client, "198.51.100.1")).status == 200
    assert (await post_from(client, "198.51.100.1")).status == 429
    # Another client behind the proxy has its own count...
    assert (await post_from(client, "198.51.100.2")).status == 200
    # ...and what a client writes in the header itself (left of the proxy's entry) is not it.
    assert (await post_from(client, "203.0.113.9, 198.51.100.1")).status == 429
    # A malformed header: the proxy's own address counts.
    for _ in range(2):
        assert (await post_from(client, "198.51.100.1:80")).status == 200
    assert (await post_from(client, "not an address")).status == 429


async def test_refused_addresses_are_remembered_within_a_bound(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every refused address is kept until its refusal ends, but never more than
    ``MAX_BLOCKED`` of them: an address forgotten early is refused again at its next miss."""
    monkeypatch.setattr(rates, "MAX_BLOCKED", 2)
    client = await make_app(unknown_keys_per_address="1/hour", trusted_proxies=("127.0.0.1",))
    key = (await create(client))["key"]
    for n in range(4):
        address = f"198.51.100.{n}"
        assert (await view(client, "nope", headers=forwarded(address))).status == 404
        assert (await view(client, "nope", headers=forwarded(address))).status == 429
    blocked: dict[str, Any] = client.app[RATE_LIMITS]._blocked  # type: ignore[union-attr]
    assert set(blocked) == {"198.51.100.2", "198.51.100.3"}
    assert (await view(client, key, headers=forwarded("198.51.100.3"))).status == 429
    # Forgotten: its hits pass again, but not its next miss.
    assert (await view(client, key, headers=forwarded("198.51.100.0"))).status == 200
    assert (await view(client, "nope", headers=forwarded("198.51.100.0"))).status == 429


def forwarded(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def post_from(client: Client, forwarded_for: str) -> ClientResponse:
    body = {"dashboard": {"title": "t", "panels": []}}
    return await client.post("/api/snapshots", json=body, headers=forwarded(forwarded_for))
