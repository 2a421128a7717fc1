"""This server as Grafana's ``[snapshots] external_snapshot_url``, driven exactly as Grafana's
external-snapshot client drives it (pkg/services/dashboardsnapshots): a POST of
``name``/``expires``/``dashboard`` with ``key`` and ``deleteKey`` as empty strings, no token,
a 5 s budget, exactly 200 required and ``key``/``deleteKey``/``url``/``deleteUrl`` read; later
a GET of ``deleteUrl`` that counts only 200, or a 500 whose JSON ``message`` is exactly
"Failed to get dashboard snapshot", as deleted. On sqlite and on Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from backends import open_store
from snapshot_server.config import StorageConfig
from snapshot_server.webapp.app import create_app
from tests.api.conftest import api_config
from tests.external.conftest import StorageToml, start
from tests.processes import EDITOR_TOKEN, ServerProcess
from tests.support import ClientFactory, ManualClock, serve

GRAFANA_TIMEOUT = aiohttp.ClientTimeout(total=5)
DASHBOARD = {"title": "From Grafana", "uid": "abc123", "panels": [{"id": 2, "type": "graph"}]}


class GrafanaRefused(Exception):
    """What Grafana's client would return as an error (its user sees a failure)."""


async def grafana_create(
    http: aiohttp.ClientSession,
    external_snapshot_url: str,
    headers: dict[str, str],
    *,
    append_as_grafana: bool = False,
) -> dict[str, str]:
    """Grafana's create: the five keys, keys empty (generate), exactly 200, four fields read.
    ``append_as_grafana``: the path appended to the URL exactly as written, trailing slash and
    all (Grafana does; the other tests pass URLs written without one)."""
    message = {
        "name": "Grafana snapshot",
        "expires": 3600,
        "dashboard": DASHBOARD,
        "key": "",
        "deleteKey": "",
    }
    base = external_snapshot_url if append_as_grafana else external_snapshot_url.rstrip("/")
    url = base + "/api/snapshots"
    async with http.post(url, json=message, headers=headers) as response:
        if response.status != 200:
            raise GrafanaRefused(f"create status {response.status}")
        answer: dict[str, Any] = await response.json()
    fields = {name: answer.get(name) for name in ("key", "deleteKey", "url", "deleteUrl")}
    assert all(isinstance(v, str) and v for v in fields.values()), answer
    return {k: str(v) for k, v in fields.items()}


async def grafana_delete(http: aiohttp.ClientSession, delete_url: str) -> None:
    """Grafana's delete: 200, or 500 with message "Failed to get dashboard snapshot"."""
    async with http.get(delete_url) as response:
        if response.status == 200:
            return
        if response.status == 500:
            body = await response.json(content_type=None)
            if body.get("message") == "Failed to get dashboard snapshot":
                return
        raise GrafanaRefused(f"delete status {response.status}")


async def test_grafana_publishes_views_and_deletes_twice(
    tmp_path: Path, storage_toml: StorageToml, processes: list[ServerProcess]
) -> None:
    server = await start(
        processes, tmp_path, f"{storage_toml('b')}\n[snapshots]\npublic_mode = true"
    )
    async with aiohttp.ClientSession(timeout=GRAFANA_TIMEOUT) as http:
        made = await grafana_create(http, server.base_url, {})  # no token: public_mode
        assert len(made["key"]) == 32
        assert len(made["deleteKey"]) == 32
        assert made["key"] != made["deleteKey"]
        assert made["url"] == f"{server.base_url}dashboard/snapshot/{made['key']}"
        assert made["deleteUrl"] == f"{server.base_url}api/snapshots-delete/{made['deleteKey']}"
        async with http.get(f"{server.base_url}api/snapshots/{made['key']}") as response:
            assert response.status == 200
            assert (await response.json())["dashboard"] == DASHBOARD
        async with http.get(made["url"]) as page:
            assert page.status == 200
        await grafana_delete(http, made["deleteUrl"])
        async with http.get(f"{server.base_url}api/snapshots/{made['key']}") as response:
            assert response.status == 404
        # Deleting again (Grafana's user removing its local row later) still succeeds for
        # Grafana: the compat 500, on by default in public_mode.
        async with http.get(made["deleteUrl"]) as response:
            assert response.status == 500
            assert await response.json() == {"message": "Failed to get dashboard snapshot"}
        await grafana_delete(http, made["deleteUrl"])


async def test_grafana_with_a_token_when_public_mode_is_off(
    tmp_path: Path, storage_toml: StorageToml, processes: list[ServerProcess]
) -> None:
    server = await start(processes, tmp_path, storage_toml("b"))
    async with aiohttp.ClientSession(timeout=GRAFANA_TIMEOUT) as http:
        with pytest.raises(GrafanaRefused, match="create status 401"):
            await grafana_create(http, server.base_url, {})
        bearer = {"Authorization": f"Bearer {EDITOR_TOKEN}"}
        made = await grafana_create(http, server.base_url, bearer)
        await grafana_delete(http, made["deleteUrl"])
        # Without grafana_external_compat an unknown deleteKey is a plain 404, which Grafana
        # counts as a failure: why public_mode turns the compat 500 on.
        with pytest.raises(GrafanaRefused, match="delete status 404"):
            await grafana_delete(http, made["deleteUrl"])


async def test_grafana_configured_with_a_trailing_slash_can_publish(
    aiohttp_client: ClientFactory, storage_config: StorageConfig, clock: ManualClock
) -> None:
    # Grafana appends "/api/snapshots" to external_snapshot_url as written, so
    # "https://snapshots.example.com/" (the common way to write a URL) makes it POST to
    # "//api/snapshots". A redirect turns its POST into a GET: that path itself must create.
    app = create_app(api_config(storage_config, public_mode=True), open_store, clock=clock)
    client = await serve(aiohttp_client, app)
    base = str(client.make_url("/"))  # "http://127.0.0.1:port/", as a user would write it
    answer = await grafana_create(client.session, base, {}, append_as_grafana=True)
    response = await client.get(f"/api/snapshots/{answer['key']}")
    assert response.status == 200
    assert (await response.json())["dashboard"]["title"] == DASHBOARD["title"]
    # and it is the API there too: a bad body is a JSON error, not a page for people
    async with client.session.post(base + "/api/snapshots", data=b"{not json") as refused:
        assert refused.status == 400
        assert refused.content_type == "application/json"
        assert (await refused.json())["message"]
