"""A commit whose reply is lost: Redis ran the script, then the connection broke before the
answer came back (the soak's connection kills found it). The client retries once on a broken
connection, so the script runs a second time; that second run must answer what the first one
did, not "key taken" (a create the client is told failed, or, with a generated key, a second
copy) nor "already gone" (a delete the client is told failed, and whose CDN purge never runs).

A proxy in front of the session's real redis-server lets one script call through, then drops
the connection instead of passing its reply back. (A cluster runs the same scripts.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from backends.redis import RedisStore
from snapshot_server.errors import SnapshotNotFound
from snapshot_server.models import ListQuery, ListScope, SnapshotChanges, hash_secret
from tests.stores.redis import redis_config
from tests.support import ManualClock, new_record


class ReplyDropper:
    """A TCP proxy to Redis. Once ``armed``, the next script call (EVALSHA) is passed on and
    run, and its connection is closed instead of its reply delivered (``dropped`` counts)."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.armed = False
        self.dropped = 0

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"redis://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/0"

    async def __aexit__(self, *_exc: object) -> None:
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        drop_reply = asyncio.Event()

        async def requests() -> None:
            while data := await reader.read(1 << 16):
                if self.armed and b"EVALSHA" in data:
                    self.armed = False
                    drop_reply.set()
                up_writer.write(data)
                await up_writer.drain()

        async def replies() -> None:
            while data := await up_reader.read(1 << 16):
                if drop_reply.is_set():
                    self.dropped += 1
                    return  # the script ran; its reply is lost with the connection
                writer.write(data)
                await writer.drain()

        with contextlib.suppress(OSError):
            tasks = [asyncio.ensure_future(requests()), asyncio.ensure_future(replies())]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
        writer.close()
        up_writer.close()


@pytest.fixture
async def proxied(redis_server_url: str) -> AsyncIterator[tuple[RedisStore, ReplyDropper]]:
    address = urlsplit(redis_server_url)
    assert address.hostname is not None
    assert address.port is not None
    proxy = ReplyDropper(address.hostname, address.port)
    async with proxy as url:
        store = await RedisStore.open(redis_config(url))
        try:
            yield store, proxy
        finally:
            await store.aclose()


async def test_an_insert_whose_reply_was_lost_answers_the_id_it_stored(
    proxied: tuple[RedisStore, ReplyDropper], clock: ManualClock
) -> None:
    store, proxy = proxied
    await store.insert(new_record(clock()))  # loads the script: the next call is an EVALSHA
    record = new_record(clock(), key="lost-reply", delete_key="lost-reply-dk")
    proxy.armed = True
    stored = await store.insert(record)
    assert proxy.dropped == 1
    assert (await store.get("lost-reply", clock())).meta == stored
    listed = await store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock())
    assert [m.key for m in listed].count("lost-reply") == 1


async def test_a_create_with_the_same_key_is_still_refused(
    proxied: tuple[RedisStore, ReplyDropper], clock: ManualClock
) -> None:
    """Only a re-run of the very same insert is answered as a success."""
    store, _proxy = proxied
    await store.insert(new_record(clock(), key="taken", delete_key="taken-dk"))
    with pytest.raises(Exception, match="key"):
        await store.insert(new_record(clock(), key="taken", delete_key="other-dk"))
    clock.advance(1)  # same key and deleteKey, a later create: another request
    with pytest.raises(Exception, match="key"):
        await store.insert(new_record(clock(), key="taken", delete_key="taken-dk"))


@pytest.mark.parametrize("route", ["key", "deleteKey"])
async def test_a_delete_whose_reply_was_lost_answers_that_it_deleted(
    proxied: tuple[RedisStore, ReplyDropper], clock: ManualClock, route: str
) -> None:
    store, proxy = proxied
    warm = await store.insert(new_record(clock()))
    await store.delete(warm.key, clock(), expect_id=warm.id)  # loads the delete script
    stored = await store.insert(new_record(clock(), key="doomed", delete_key="doomed-dk"))
    proxy.armed = True
    if route == "key":
        deleted = await store.delete("doomed", clock(), expect_id=stored.id)
    else:
        deleted = await store.delete_by_delete_key(hash_secret("doomed-dk"), clock())
    assert proxy.dropped == 1
    assert deleted == stored
    with pytest.raises(SnapshotNotFound):
        await store.get("doomed", clock())
    with pytest.raises(SnapshotNotFound):  # and a second delete is still refused
        await store.delete_by_delete_key(hash_secret("doomed-dk"), clock())


async def test_an_update_whose_reply_was_lost_answers_the_update(
    proxied: tuple[RedisStore, ReplyDropper], clock: ManualClock
) -> None:
    store, proxy = proxied
    stored = await store.insert(new_record(clock(), key="renamed", expires_in=60))
    changes = SnapshotChanges(clock(), name="warm")
    await store.update("renamed", clock(), expect_id=stored.id, changes=changes)  # loads it
    proxy.armed = True
    changes = SnapshotChanges(clock() + 1, name="after", expires=clock() + 600)
    new = await store.update("renamed", clock(), expect_id=stored.id, changes=changes)
    assert proxy.dropped == 1
    assert (new.name, new.expires) == ("after", clock() + 600)
    assert (await store.get("renamed", clock())).meta == new


async def test_a_rotate_whose_reply_was_lost_answers_the_rotate(
    proxied: tuple[RedisStore, ReplyDropper], clock: ManualClock
) -> None:
    store, proxy = proxied
    warm = await store.insert(new_record(clock(), key="w0"))
    await store.rotate("w0", "w1", clock(), expect_id=warm.id, updated=clock(), grace_until=None)
    stored = await store.insert(new_record(clock(), key="r0", delete_key="r0-dk"))
    proxy.armed = True
    new = await store.rotate(
        "r0", "r1", clock(), expect_id=stored.id, updated=clock(), grace_until=clock() + 60
    )
    assert proxy.dropped == 1
    assert new.key == "r1"
    assert (await store.get("r1", clock())).meta == new
    assert (await store.get("r0", clock())).meta == new  # the alias it left
    assert await store.get_by_delete_key(hash_secret("r0-dk"), clock()) == new
