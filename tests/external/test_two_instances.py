"""Two real ``snapshot-server`` processes: A publishes (``external_enabled``) to B, which is
Grafana-style external server (``public_mode``). On sqlite and on Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from tests.external.conftest import StorageToml, start
from tests.processes import ADMIN_TOKEN, EDITOR_TOKEN, ServerProcess

DASHBOARD = {"title": "Published from A", "panels": [{"id": 1, "type": "text", "title": "hi"}]}
EDITOR = {"Authorization": f"Bearer {EDITOR_TOKEN}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def pair(
    started: list[ServerProcess],
    tmp_path: Path,
    storage_toml: StorageToml,
    *,
    b_snapshots: str = "public_mode = true",
    a_token: str = "",
    name: str = "",
) -> tuple[ServerProcess, ServerProcess]:
    """A (publishing to B) and B, each on its own storage (``name`` sets pairs apart)."""
    b_storage = storage_toml(f"b{name}")
    b = await start(started, tmp_path, f"{b_storage}\n[snapshots]\n{b_snapshots}\n")
    a_snapshots = (
        f'[snapshots]\nexternal_enabled = true\nexternal_snapshot_url = "{b.base_url}"\n'
        f'external_snapshot_token = "{a_token}"\nexternal_timeout = 5.0\n'
    )
    a = await start(started, tmp_path, f"{storage_toml(f'a{name}')}\n{a_snapshots}")
    return a, b


async def publish(http: aiohttp.ClientSession, a: ServerProcess, status: int = 200) -> Any:
    body = {"dashboard": DASHBOARD, "name": "to B", "expires": 3600, "external": True}
    async with http.post(f"{a.base_url}api/snapshots", json=body, headers=EDITOR) as response:
        assert response.status == status, await response.text()
        return await response.json()


async def status_of(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url) as response:
        return response.status


async def listed(http: aiohttp.ClientSession, server: ServerProcess) -> Any:
    async with http.get(f"{server.base_url}api/dashboard/snapshots", headers=ADMIN) as response:
        assert response.status == 200
        return await response.json()


async def test_publish_view_list_and_delete_through_a(
    tmp_path: Path, storage_toml: StorageToml, processes: list[ServerProcess]
) -> None:
    a, b = await pair(processes, tmp_path, storage_toml)
    async with aiohttp.ClientSession() as http:
        made = await publish(http, a)
        key = made["key"]
        assert made["url"] == f"{b.base_url}dashboard/snapshot/{key}"
        assert made["deleteUrl"] == f"{a.base_url}api/snapshots-delete/{made['deleteKey']}"
        # B serves it at the returned url (page) and by its key (API), with the dashboard sent.
        async with http.get(made["url"]) as page:
            assert page.status == 200
            assert "Published from A" in await page.text()
        async with http.get(f"{b.base_url}api/snapshots/{key}") as response:
            assert response.status == 200
            assert (await response.json())["dashboard"] == DASHBOARD
        # A keeps a pointer: listed as external, its data not served here.
        (item,) = await listed(http, a)
        assert item["external"] is True
        assert item["externalUrl"] == made["url"]
        assert item["key"] == key
        assert await status_of(http, f"{a.base_url}api/snapshots/{key}") == 404
        (on_b,) = await listed(http, b)  # B holds the data, as an anonymous snapshot
        assert (on_b["key"], on_b["external"], on_b["userId"]) == (key, False, 0)
        # Deleting on A deletes on B first.
        async with http.get(made["deleteUrl"]) as response:
            assert response.status == 200, await response.text()
        assert await status_of(http, f"{b.base_url}api/snapshots/{key}") == 404
        assert await listed(http, a) == []
        assert await listed(http, b) == []


async def test_deleted_on_b_first_still_deletes_on_a(
    tmp_path: Path, storage_toml: StorageToml, processes: list[ServerProcess]
) -> None:
    a, b = await pair(processes, tmp_path, storage_toml)
    async with aiohttp.ClientSession() as http:
        made = await publish(http, a)
        key = made["key"]
        async with http.delete(f"{b.base_url}api/snapshots/{key}", headers=ADMIN) as response:
            assert response.status == 200  # B's Admin removes it there
        # B now answers A's remote delete with Grafana's "already gone" 500: A deletes.
        async with http.delete(f"{a.base_url}api/snapshots/{key}", headers=EDITOR) as response:
            assert response.status == 200, await response.text()
        assert await listed(http, a) == []


async def test_b_stopped_is_502_and_nothing_stored_on_a(
    tmp_path: Path, storage_toml: StorageToml, processes: list[ServerProcess]
) -> None:
    a, b = await pair(processes, tmp_path, storage_toml)
    async with aiohttp.ClientSession() as http:
        kept = await publish(http, a)
        await b.stop()
        failed = await publish(http, a, status=502)
        assert "could not be reached to create the snapshot" in failed["message"]
        # The pointer published before B went away stays until B can delete its copy.
        async with http.get(kept["deleteUrl"]) as response:
            assert response.status == 502
        assert [item["key"] for item in await listed(http, a)] == [kept["key"]]


async def test_b_with_tokens_takes_a_bearer_token_and_names_it_when_wrong(
    tmp_path: Path, storage_toml: StorageToml, processes: list[ServerProcess]
) -> None:
    a, b = await pair(processes, tmp_path, storage_toml, b_snapshots="", a_token=EDITOR_TOKEN)
    wrong, _ = await pair(
        processes, tmp_path, storage_toml, b_snapshots="", a_token="nope", name="-wrong"
    )
    async with aiohttp.ClientSession() as http:
        made = await publish(http, a)
        async with http.get(f"{b.base_url}api/snapshots/{made['key']}") as response:
            assert (await response.json())["dashboard"] == DASHBOARD
        (item,) = await listed(http, b)  # owned on B by the token's user
        assert item["userId"] == 2
        refused = await publish(http, wrong, status=502)
        assert "(HTTP 401): check snapshots.external_snapshot_token" in refused["message"]
        assert await listed(http, wrong) == []
        async with http.get(made["deleteUrl"]) as response:
            assert response.status == 200
        assert await listed(http, b) == []
