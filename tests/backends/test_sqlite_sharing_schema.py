"""SQLite schema 4 (sharing controls): a database of schema 3, as the server before it wrote
one, is upgraded at open; its snapshots read back with no password, and can be updated and
rotated at once."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from backends.sqlite import SQLiteSettings, SQLiteStore, database
from snapshot_server.config import StorageConfig
from snapshot_server.errors import SnapshotExists, SnapshotNotFound
from snapshot_server.models import ListQuery, ListScope, SnapshotChanges, hash_secret
from tests.support import ManualClock, new_record

# A row as the schema-3 server inserted it (its INSERT named these columns: no password_hash).
V3_INSERT = (
    "INSERT INTO snapshot (key, delete_key_hash, name, org_id, user_id, external, external_url,"
    " external_delete_url, created, updated, expires, etag, dashboard)"
    " VALUES (?, ?, 'old one', 1, 1, 0, '', '', ?, ?, ?, '\"e\"', ?)"
)


def make_v3(path: Path, now: float) -> None:
    with closing(sqlite3.connect(path)) as raw:
        for script in database._MIGRATIONS[:3]:
            for statement in database._statements(script):
                raw.execute(statement)
        raw.execute("PRAGMA user_version = 3")
        raw.execute(V3_INSERT, ("v3key", hash_secret("v3del"), now, now, now + 600, b'{"v":3}'))
        raw.commit()


async def test_a_schema_3_database_is_upgraded_at_open(tmp_path: Path, clock: ManualClock) -> None:
    assert database.SCHEMA_VERSION == 4
    path = tmp_path / "v3.db"
    make_v3(path, clock())
    store = await SQLiteStore.open(StorageConfig.using("sqlite", SQLiteSettings(path=str(path))))
    try:
        old = await store.get("v3key", clock())
        assert old.meta.password_hash == ""
        assert old.dashboard == b'{"v":3}'
        listed = await store.list_snapshots(ListScope(1), ListQuery("old", 10, 1), clock())
        assert listed == [old.meta]
        locked = await store.update(
            "v3key",
            clock(),
            expect_id=old.meta.id,
            changes=SnapshotChanges(clock(), password_hash="$argon2id$x", expires=None),
        )
        assert (locked.password_hash, locked.expires) == ("$argon2id$x", None)
        moved = await store.rotate(
            "v3key",
            "v4key",
            clock(),
            expect_id=old.meta.id,
            updated=clock(),
            grace_until=clock() + 60,
        )
        assert (await store.get("v3key", clock())).meta == moved
        with pytest.raises(SnapshotExists):
            await store.rotate(
                "v4key", "v3key", clock(), expect_id=moved.id, updated=clock(), grace_until=None
            )
        assert await store.delete_by_delete_key(hash_secret("v3del"), clock()) == moved
        with pytest.raises(SnapshotNotFound):
            await store.get("v3key", clock())
    finally:
        await store.aclose()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (4,)
    assert alias_count(path) == 0  # the delete took the alias with it (the trigger)


async def test_aliases_past_their_deadline_are_swept_by_cleanup(
    tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "s.db"
    store = await SQLiteStore.open(StorageConfig.using("sqlite", SQLiteSettings(path=str(path))))
    try:
        stored = await store.insert(new_record(clock(), "s1"))
        await store.rotate(
            "s1", "s2", clock(), expect_id=stored.id, updated=clock(), grace_until=clock() + 5
        )
        assert await store.delete_expired(clock()) == []
        assert alias_count(path) == 1  # still in its grace
        clock.advance(5)
        assert await store.delete_expired(clock()) == []
        assert alias_count(path) == 0
    finally:
        await store.aclose()


def alias_count(path: Path) -> int:
    with closing(sqlite3.connect(path)) as db:
        (count,) = db.execute("SELECT count(*) FROM snapshot_alias").fetchone()
        return int(count)
