"""The per-org caps on every backend: a create past ``max_snapshots_per_org`` is 429 and one
past ``max_bytes_per_org`` is 413, each naming the cap; deletes and expiry make room again;
0 means no cap; nothing is capped while limits are off."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aiohttp import ClientResponse

from snapshot_server.config import StorageConfig
from tests.abuse.conftest import limited_app
from tests.api.conftest import Client, auth, create
from tests.support import ClientFactory, ManualClock, serve

SNAPSHOTS_CAP = (
    "Too many snapshots: the cap is 2 snapshots per organization"
    " (limits.max_snapshots_per_org); delete some or wait for some to expire"
)


async def capped(
    aiohttp_client: ClientFactory, storage: StorageConfig, clock: ManualClock, **caps: Any
) -> Client:
    return await serve(aiohttp_client, limited_app(storage, clock, **caps))


async def post(client: Client, user: str = "editor", **body: Any) -> ClientResponse:
    body.setdefault("dashboard", {"title": "t", "panels": []})
    return await client.post("/api/snapshots", json=body, headers=auth(user))


async def test_the_snapshot_cap(
    aiohttp_client: ClientFactory, storage_config: StorageConfig, clock: ManualClock
) -> None:
    client = await capped(aiohttp_client, storage_config, clock, max_snapshots_per_org=2)
    first = await create(client, expires=60)
    await create(client, user="admin")
    refused = await post(client)
    assert refused.status == 429
    assert await refused.json() == {"message": SNAPSHOTS_CAP}
    assert refused.headers["Cache-Control"] == "no-store"
    assert "Retry-After" not in refused.headers  # a cap frees up by deletes, not by waiting
    assert (await post(client, "other_org")).status == 200  # another org has its own
    # A delete makes room, and so does an expiry (before any cleanup has run).
    assert (await client.get(f"/api/snapshots-delete/{first['deleteKey']}")).status == 200
    third = await create(client, expires=60)
    assert (await post(client)).status == 429
    clock.advance(60)
    assert (await post(client)).status == 200
    assert (await client.get(f"/api/snapshots/{third['key']}")).status == 404


async def test_the_byte_cap(
    aiohttp_client: ClientFactory, storage_config: StorageConfig, clock: ManualClock
) -> None:
    dashboard = {"title": "x" * 500, "panels": []}
    size = len(orjson.dumps(dashboard))
    client = await capped(aiohttp_client, storage_config, clock, max_bytes_per_org=2 * size)
    await create(client, dashboard=dashboard)
    await create(client, dashboard=dashboard)
    refused = await post(client, dashboard={"title": "", "panels": []})
    assert refused.status == 413
    assert await refused.json() == {
        "message": f"Too much stored: the cap is {2 * size} bytes of dashboards per organization"
        f" (limits.max_bytes_per_org), and this snapshot is {size - 500} bytes"
    }
    assert (await post(client, "other_org", dashboard=dashboard)).status == 200


async def test_a_snapshot_larger_than_the_byte_cap_alone_is_refused(
    aiohttp_client: ClientFactory, sqlite_storage_config: StorageConfig, clock: ManualClock
) -> None:
    client = await capped(aiohttp_client, sqlite_storage_config, clock, max_bytes_per_org=100)
    response = await post(client, dashboard={"title": "x" * 200, "panels": []})
    assert response.status == 413
    assert "limits.max_bytes_per_org" in (await response.json())["message"]


async def test_anonymous_snapshots_count_in_org_1(
    aiohttp_client: ClientFactory, sqlite_storage_config: StorageConfig, clock: ManualClock
) -> None:
    client = await serve(
        aiohttp_client,
        limited_app(sqlite_storage_config, clock, public_mode=True, max_snapshots_per_org=2),
    )
    body = {"dashboard": {"title": "t", "panels": []}}
    assert (await client.post("/api/snapshots", json=body)).status == 200
    assert (await post(client)).status == 200  # the editor's org is 1 too
    assert (await client.post("/api/snapshots", json=body)).status == 429
    assert (await post(client, "other_org")).status == 200


@pytest.mark.parametrize(
    "settings",
    [
        {"max_snapshots_per_org": 0, "max_bytes_per_org": 0},
        {"enabled": False, "max_snapshots_per_org": 1, "max_bytes_per_org": 10},
    ],
    ids=["zero-means-no-cap", "limits-off"],
)
async def test_nothing_is_capped(
    aiohttp_client: ClientFactory,
    sqlite_storage_config: StorageConfig,
    clock: ManualClock,
    settings: dict[str, Any],
) -> None:
    client = await capped(aiohttp_client, sqlite_storage_config, clock, **settings)
    for _ in range(3):
        assert (await post(client)).status == 200


async def test_refusals_by_caps_are_counted_in_metrics(
    aiohttp_client: ClientFactory, sqlite_storage_config: StorageConfig, clock: ManualClock
) -> None:
    client = await capped(
        aiohttp_client, sqlite_storage_config, clock, max_snapshots_per_org=1, max_bytes_per_org=80
    )
    assert (await post(client)).status == 200
    assert (await post(client)).status == 429
    assert (await post(client, "other_org", dashboard={"title": "x" * 100})).status == 413
    metrics = await (await client.get("/metrics")).text()
    assert 'snapshot_limited_total{limit="max_snapshots_per_org"} 1.0' in metrics
    assert 'snapshot_limited_total{limit="max_bytes_per_org"} 1.0' in metrics
