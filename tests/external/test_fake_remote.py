"""Publishing (``external: true``) against a fake remote on a loopback port: what is sent, what
is stored, and every way the remote can fail (a 502 that says why, and nothing stored)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest

from backends import open_store
from snapshot_server.config import StorageConfig
from snapshot_server.webapp.app import create_app
from tests.api.conftest import ROOT_URL, Client, api_config, auth, create
from tests.external.fake_remote import FakeRemote, start_fake
from tests.support import ClientFactory, ManualClock, serve

DASHBOARD = {"title": "Published", "panels": [{"id": 1, "type": "stat", "title": "up"}]}
TOKEN = "remote-secret-token"

Publisher = Callable[..., Awaitable[Client]]


@pytest.fixture
async def remote() -> AsyncIterator[FakeRemote]:
    fake = await start_fake()
    yield fake
    assert fake.server is not None
    await fake.server.close()


@pytest.fixture
def publisher(
    aiohttp_client: ClientFactory, storage_config: StorageConfig, clock: ManualClock
) -> Publisher:
    """``await publisher(remote, **snapshots_settings)``: a server publishing to ``remote`` (a
    ``FakeRemote`` or a base URL)."""

    async def make(fake: FakeRemote | str, **settings: Any) -> Client:
        settings = {
            "external_enabled": True,
            "external_snapshot_url": fake if isinstance(fake, str) else fake.base.rstrip("/"),
            "external_timeout": 5.0,
            **settings,
        }
        app = create_app(api_config(storage_config, **settings), open_store, clock=clock)
        return await serve(aiohttp_client, app)

    return make


async def listed(client: Client) -> list[dict[str, Any]]:
    response = await client.get("/api/dashboard/snapshots", headers=auth("admin"))
    assert response.status == 200
    items: list[dict[str, Any]] = await response.json()
    return items


async def test_the_request_sent_is_grafanas_with_the_bearer_token(
    remote: FakeRemote, publisher: Publisher
) -> None:
    client = await publisher(remote, external_snapshot_token=TOKEN)
    await create(client, external=True, dashboard=DASHBOARD, name="shared", expires=3600)
    (sent,) = remote.seen
    assert (sent.method, sent.path) == ("POST", "/api/snapshots")
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Content-Type"] == "application/json"
    body = orjson.loads(sent.body)
    assert set(body) == {"dashboard", "name", "expires", "key", "deleteKey"}
    assert body["dashboard"] == DASHBOARD
    assert body["name"] == "shared"
    assert body["expires"] == 3600
    assert body["key"] == ""
    assert body["deleteKey"] == ""


async def test_no_token_configured_sends_no_authorization(
    remote: FakeRemote, publisher: Publisher
) -> None:
    client = await publisher(remote)
    await create(client, external=True, key="chosen-key", deleteKey="chosen-delete")
    (sent,) = remote.seen
    assert "Authorization" not in sent.headers
    body = orjson.loads(sent.body)
    assert (body["key"], body["deleteKey"]) == ("chosen-key", "chosen-delete")
    assert body["expires"] == 0
    assert body["name"] == "Unnamed snapshot"


async def test_published_snapshot_is_a_pointer_here(
    remote: FakeRemote, publisher: Publisher
) -> None:
    client = await publisher(remote)
    made = await create(client, external=True, dashboard=DASHBOARD, name="pointer")
    assert len(remote.requests("POST", "/api/snapshots")) == 1
    key = made["key"]
    assert made["url"] == f"{remote.base}dashboard/snapshot/{key}"  # where it is viewed
    assert made["deleteUrl"] == f"{ROOT_URL}api/snapshots-delete/{made['deleteKey']}"
    (item,) = await listed(client)
    assert item["key"] == key
    assert item["id"] == made["id"]
    assert item["name"] == "pointer"
    assert item["external"] is True
    assert item["externalUrl"] == made["url"]
    # The data lives remotely: the local key is 404, and its page links a person there.
    response = await client.get(f"/api/snapshots/{key}")
    assert response.status == 404
    assert (await response.json())["message"] == "Snapshot not found"
    page = await client.get(f"/dashboard/snapshot/{key}")
    assert page.status == 404
    assert page.content_type == "text/html"
    assert f'href="{made["url"]}"' in await page.text()


async def test_delete_by_delete_key_deletes_remotely_first(
    remote: FakeRemote, publisher: Publisher
) -> None:
    client = await publisher(remote)
    made = await create(client, external=True)
    response = await client.get(f"/api/snapshots-delete/{made['deleteKey']}")
    assert response.status == 200, await response.text()
    assert (await response.json())["message"].startswith("Snapshot deleted.")
    (deleted,) = remote.requests("GET", "/api/snapshots-delete/")
    assert "Authorization" not in deleted.headers  # the deleteKey is the capability
    assert await listed(client) == []


async def test_delete_by_key_deletes_remotely_first(
    remote: FakeRemote, publisher: Publisher
) -> None:
    client = await publisher(remote, external_snapshot_token=TOKEN)
    made = await create(client, external=True)
    response = await client.delete(f"/api/snapshots/{made['key']}", headers=auth("editor"))
    assert response.status == 200, await response.text()
    assert len(remote.requests("GET", "/api/snapshots-delete/")) == 1
    assert await listed(client) == []


async def test_remote_already_gone_counts_as_deleted(
    remote: FakeRemote, publisher: Publisher
) -> None:
    client = await publisher(remote)
    made = await create(client, external=True)
    remote.delete_mode = "gone"  # Grafana's compat 500 "Failed to get dashboard snapshot"
    response = await client.get(f"/api/snapshots-delete/{made['deleteKey']}")
    assert response.status == 200, await response.text()
    assert await listed(client) == []


async def test_remote_delete_failure_is_502_and_keeps_the_pointer(
    remote: FakeRemote, publisher: Publisher
) -> None:
    client = await publisher(remote)
    made = await create(client, external=True)
    remote.delete_mode = "fail"
    response = await client.get(f"/api/snapshots-delete/{made['deleteKey']}")
    assert response.status == 502
    assert "failed to delete the snapshot (HTTP 503)" in (await response.json())["message"]
    response = await client.delete(f"/api/snapshots/{made['key']}", headers=auth("editor"))
    assert response.status == 502
    assert [item["key"] for item in await listed(client)] == [made["key"]]
    remote.delete_mode = "ok"  # the remote recovered: the same delete now goes through
    response = await client.get(f"/api/snapshots-delete/{made['deleteKey']}")
    assert response.status == 200
    assert await listed(client) == []


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("garbage500", "failed to create the snapshot (HTTP 500)"),
        ("not_json", "its answer is not JSON"),
        ("missing_fields", "its answer has no usable 'deleteKey'"),
        ("unauthorized", "(HTTP 401): check snapshots.external_snapshot_token"),
        ("forbidden", "(HTTP 403): check snapshots.external_snapshot_token"),
        ("slow", "did not answer within 1 s"),
        ("huge", "answered more than 65536 bytes"),
        ("huge_chunked", "answered more than 65536 bytes"),
        ("bad_url", "'url' is missing or not an absolute http(s) URL"),
    ],
)
async def test_remote_failure_is_502_and_nothing_is_stored(
    remote: FakeRemote, publisher: Publisher, mode: str, message: str
) -> None:
    # Only the slow remote (it takes 5 s) is to time out, however loaded the machine is.
    timeout = 1.0 if mode == "slow" else 5.0
    client = await publisher(remote, external_snapshot_token=TOKEN, external_timeout=timeout)
    remote.create_mode = mode
    data = await create(client, status=502, external=True)
    assert message in data["message"]
    assert data["message"].startswith(f"External snapshot server {remote.base.rstrip('/')}")
    assert len(remote.requests("POST", "/api/snapshots")) == 1
    assert await listed(client) == []


async def test_redirect_to_another_host_is_not_followed(
    remote: FakeRemote, publisher: Publisher
) -> None:
    elsewhere = await start_fake()
    try:
        client = await publisher(remote, external_snapshot_token=TOKEN)
        remote.create_mode = "redirect"
        remote.redirect_to = f"{elsewhere.base}api/snapshots"
        data = await create(client, status=502, external=True)
        assert "(HTTP 302)" in data["message"]
        assert "redirect" in data["message"]
        assert elsewhere.seen == []  # neither the snapshot nor the token went there
        assert await listed(client) == []
    finally:
        assert elsewhere.server is not None
        await elsewhere.server.close()


async def test_remote_down_is_502_and_nothing_is_stored(publisher: Publisher) -> None:
    # A port bound but not listening refuses connections, and no other process can take it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        client = await publisher(url, external_timeout=10.0)
        data = await create(client, status=502, external=True)
    assert "could not be reached to create the snapshot" in data["message"]
    assert await listed(client) == []


async def test_remote_key_taken_here_is_502_and_the_remote_copy_withdrawn(
    remote: FakeRemote, publisher: Publisher
) -> None:
    client = await publisher(remote)
    await create(client, key="already-here")
    remote.fixed_key = "already-here"
    data = await create(client, status=502, external=True)
    assert data["message"] == "The external snapshot server answered a key already used here"
    assert len(remote.requests("GET", "/api/snapshots-delete/")) == 1
    (item,) = await listed(client)
    assert item["external"] is False


async def test_external_true_is_still_403_when_publishing_is_off(
    remote: FakeRemote, publisher: Publisher
) -> None:
    client = await publisher(remote, external_enabled=False)
    data = await create(client, status=403, external=True)
    assert data["message"] == "External dashboard creation is disabled"
    assert remote.seen == []


async def test_shared_options_report_the_configured_publishing(
    remote: FakeRemote, publisher: Publisher
) -> None:
    client = await publisher(remote, external_snapshot_name="Publish to B")
    response = await client.get("/api/snapshot/shared-options", headers=auth("viewer"))
    assert await response.json() == {
        "snapshotEnabled": True,
        "externalSnapshotURL": remote.base.rstrip("/"),
        "externalSnapshotName": "Publish to B",
        "externalEnabled": True,
    }


async def test_a_deleteurl_naming_another_server_is_never_called(
    remote: FakeRemote, publisher: Publisher
) -> None:
    # A remote (or whoever answers for it) could name any address as the deleteUrl, and a
    # later local delete would make this server GET it: a request forged into the operator's
    # network. Only external_snapshot_url's own server is called; the delete goes to its
    # snapshots-delete route with the remote's deleteKey, as a Grafana-compatible server has.
    victim = await start_fake()
    try:
        remote.delete_base = victim.base
        client = await publisher(remote)
        made = await create(client, external=True)
        response = await client.get(f"/api/snapshots-delete/{made['deleteKey']}")
        assert response.status == 200, await response.text()
        assert victim.seen == []
        (deleted,) = remote.requests("GET", "/api/snapshots-delete/")
        assert await listed(client) == []
    finally:
        assert victim.server is not None
        await victim.server.close()
    assert deleted.path.rsplit("/", 1)[1] != made["deleteKey"]  # the remote's key, not ours


async def test_cookies_a_remote_sets_are_never_sent_back(
    remote: FakeRemote, publisher: Publisher
) -> None:
    # Publishes and deletes are made for many users over one client: a cookie one answer sets
    # must not ride along on the next user's request (nor pile up in the server's memory).
    remote.create_mode = "sets_cookie"
    assert remote.server is not None  # by name: a cookie jar keeps no cookies of an IP address
    client = await publisher(f"http://localhost:{remote.server.port}")
    made = await create(client, external=True)
    await create(client, external=True)
    response = await client.get(f"/api/snapshots-delete/{made['deleteKey']}")
    assert response.status == 200, await response.text()
    assert len(remote.seen) == 3
    assert all("Cookie" not in seen.headers for seen in remote.seen)
