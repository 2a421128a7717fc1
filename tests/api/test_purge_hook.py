"""Deletes trigger the CDN purge hook: a real webhook purger posting to a local receiver.
Covers both delete routes and the cleanup job, and the delete message that says so."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

from backends import open_store
from snapshot_server.config import CdnConfig, StorageConfig
from snapshot_server.purge import PurgeDispatcher, PurgeError
from snapshot_server.purge.recording import RecordingPurger
from snapshot_server.purge.webhook import WebhookSettings
from snapshot_server.webapp.app import create_app
from snapshot_server.webapp.appkeys import PURGER, SERVICE
from tests.api.conftest import ROOT_URL, api_config, auth, create
from tests.purge.helpers import RecordingSleep
from tests.support import ClientFactory, ManualClock, serve

PURGING = "Snapshot deleted. CDN caches are being purged."


async def test_every_removal_is_purged(
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
    aiohttp_client: ClientFactory,
    storage_config: StorageConfig,
    clock: ManualClock,
) -> None:
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def receive(request: web.Request) -> web.Response:
        await received.put(orjson.loads(await request.read()))
        return web.Response(status=204)

    receiver = web.Application()
    receiver.router.add_post("/hook", receive)
    hook = await aiohttp_server(receiver)
    purger = WebhookSettings(url=str(hook.make_url("/hook")), secret="s3cret")
    config = dataclasses.replace(api_config(storage_config), cdn=CdnConfig(purgers=(purger,)))
    client = await serve(aiohttp_client, create_app(config, open_store, clock=clock))

    by_key = await create(client)
    response = await client.delete(f"/api/snapshots/{by_key['key']}", headers=auth("editor"))
    assert (await response.json())["message"] == PURGING
    event = await asyncio.wait_for(received.get(), 5)
    assert (event["event"], event["key"], event["reason"]) == (
        "snapshot.deleted", by_key["key"], "delete",
    )  # fmt: skip
    assert event["urls"] == [
        f"{ROOT_URL}api/snapshots/{by_key['key']}",
        f"{ROOT_URL}dashboard/snapshot/{by_key['key']}",
    ]
    assert by_key["deleteKey"] not in orjson.dumps(event).decode()

    by_delete_key = await create(client)
    response = await client.get(f"/api/snapshots-delete/{by_delete_key['deleteKey']}")
    assert (await response.json())["message"] == PURGING
    event = await asyncio.wait_for(received.get(), 5)
    assert (event["key"], event["reason"]) == (by_delete_key["key"], "delete-key")

    expiring = await create(client, expires=10)
    clock.advance(10)
    assert await client.app[SERVICE].cleanup_expired() == 1
    event = await asyncio.wait_for(received.get(), 5)
    assert (event["key"], event["reason"]) == (expiring["key"], "expired")
    assert received.empty()

    dispatcher = client.app[PURGER]
    assert dispatcher is not None
    async with asyncio.timeout(5):  # the dispatcher counts a delivery just after sending it
        await dispatcher.join()
    text = await (await client.get("/metrics")).text()
    assert 'snapshot_purges_total{outcome="succeeded"} 3.0' in text
    assert 'snapshot_purges_total{outcome="submitted"} 3.0' in text
    assert 'snapshot_purges_total{outcome="failed"} 0.0' in text


async def test_create_app_runs_an_injected_dispatcher(
    aiohttp_client: ClientFactory, storage_config: StorageConfig, clock: ManualClock
) -> None:
    rec = RecordingPurger(failures=[PurgeError("503", retryable=True)])
    sleep = RecordingSleep()
    dispatcher = PurgeDispatcher([rec], root_url=ROOT_URL, clock=clock, sleep=sleep)
    app = create_app(api_config(storage_config), open_store, clock=clock, dispatcher=dispatcher)
    client = await serve(aiohttp_client, app)  # no [[cdn.purgers]]: only the injected one
    assert client.app[PURGER] is dispatcher

    made = await create(client)
    response = await client.delete(f"/api/snapshots/{made['key']}", headers=auth("editor"))
    assert (await response.json())["message"] == PURGING
    async with asyncio.timeout(5):
        await dispatcher.join()
    assert [(e.key, e.reason) for e in rec.purged] == [(made["key"], "delete")]
    assert len(sleep.delays) == 1  # the retry's backoff was the injected sleep's
