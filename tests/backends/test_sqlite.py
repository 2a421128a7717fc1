"""SQLite-specific guarantees beyond the shared contract."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path

import pytest

from backends.sqlite import SQLiteStore
from snapshot_server.config import SQLiteConfig, StorageConfig
from snapshot_server.errors import StorageUnavailable
from snapshot_server.models import hash_secret
from tests.support import ManualClock, new_record


async def test_an_acknowledged_insert_is_already_committed(
    tmp_path: Path, clock: ManualClock
) -> None:
    """While another coroutine's query is in progress on the same connection, an insert that
    returns must already be committed: visible to another connection, so durable if the
    process is killed the next instant."""
    path = tmp_path / "s.db"
    store = await SQLiteStore.open(StorageConfig(sqlite=SQLiteConfig(path=str(path))))
    other = sqlite3.connect(path)
    try:
        for _ in range(200):
            await store.insert(new_record(clock()))
        for attempt in range(20):
            listing = asyncio.create_task(store.list_snapshots(1, None, "", 5000, 1, clock()))
            await asyncio.sleep(0)  # the listing's query reaches the database thread first
            stored = await store.insert(new_record(clock(), f"acked-{attempt}"))
            (count,) = other.execute(
                "SELECT count(*) FROM snapshot WHERE key = ?", (stored.key,)
            ).fetchone()
            assert count == 1, f"insert {attempt} was acknowledged before its commit"
            await listing
    finally:
        other.close()
        await store.aclose()


async def test_driver_errors_are_storage_unavailable(tmp_path: Path, clock: ManualClock) -> None:
    """Every operation turns an ``sqlite3.Error`` into ``StorageUnavailable`` (here: the table
    dropped under the store by another connection)."""
    path = tmp_path / "s.db"
    store = await SQLiteStore.open(StorageConfig(sqlite=SQLiteConfig(path=str(path))))
    try:
        stored = await store.insert(new_record(clock(), delete_key="dk"))
        with closing(sqlite3.connect(path)) as other, other:
            other.execute("DROP TABLE snapshot")
        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "insert": lambda: store.insert(new_record(clock())),
            "get": lambda: store.get(stored.key, clock()),
            "get_by_delete_key": lambda: store.get_by_delete_key(hash_secret("dk"), clock()),
            "list_snapshots": lambda: store.list_snapshots(1, None, "", 10, 1, clock()),
            "delete": lambda: store.delete(stored.key, clock(), expect_id=stored.id),
            "delete_by_delete_key": lambda: store.delete_by_delete_key(hash_secret("dk"), 0.0),
            "delete_expired": lambda: store.delete_expired(clock()),
        }
        for name, call in calls.items():
            with pytest.raises(StorageUnavailable) as info:
                await call()
            assert isinstance(info.value.__cause__, sqlite3.OperationalError), name
        await store.ping()  # the connection itself is fine
    finally:
        await store.aclose()
