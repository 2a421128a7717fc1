"""SQLite-specific guarantees beyond the shared contract."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from backends.sqlite import SQLiteStore
from snapshot_server.config import SQLiteConfig, StorageConfig
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
