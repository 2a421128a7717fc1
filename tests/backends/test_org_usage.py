"""``org_usage`` beyond the contract suite: totals shared by every store on one storage (what
one worker stores weighs on the caps another checks), kept through the filesystem journal's
compaction, and what each backend does with data stored before it kept totals."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import redis.asyncio

from backends import open_store
from backends.filesystem import FilesystemStore, journal
from backends.filesystem.format import encode_journal_add
from backends.sqlite import SQLiteSettings, database
from snapshot_server.config import StorageConfig
from snapshot_server.models import SnapshotMeta
from snapshot_server.storage import OrgUsage
from tests.backends.fs_support import config_for, journal_lines
from tests.contract.test_org_usage import dashboard
from tests.stores.redis import redis_settings
from tests.support import ManualClock, new_record

SHARED = ("sqlite", "filesystem", "redis", "redis_cluster")


@pytest.mark.parametrize("backend", SHARED)
async def test_usage_is_shared_by_stores_on_the_same_storage(
    backend: str, request: pytest.FixtureRequest, clock: ManualClock
) -> None:
    config: StorageConfig = request.getfixturevalue(f"{backend}_storage_config")
    first, second = await open_store(config), await open_store(config)
    try:
        await first.insert(new_record(clock(), dashboard=dashboard(100), expires_in=10))
        await second.insert(new_record(clock(), dashboard=dashboard(200)))
        assert await first.org_usage(1, clock()) == OrgUsage(2, 300)
        assert await second.org_usage(1, clock()) == OrgUsage(2, 300)
        clock.advance(10)
        await second.delete_expired(clock())
        assert await first.org_usage(1, clock()) == OrgUsage(1, 200)
    finally:
        await first.aclose()
        await second.aclose()


async def test_filesystem_totals_survive_journal_compaction(
    fs: FilesystemStore, root: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "COMPACT_MIN_DEAD", 2)
    kept = [
        await fs.insert(new_record(clock(), dashboard=dashboard(100), expires_in=50)),
        await fs.insert(new_record(clock(), dashboard=dashboard(300))),
    ]
    for _ in range(4):
        gone = await fs.insert(new_record(clock(), dashboard=dashboard(1000)))
        await fs.delete(gone.key, clock(), expect_id=gone.id)
    assert len(journal_lines(root)) == len(kept)  # compacted: only the live entries are left
    assert await fs.org_usage(1, clock()) == OrgUsage(2, 400)
    reopened = await FilesystemStore.open(config_for(root))
    try:
        assert await reopened.org_usage(1, clock()) == OrgUsage(2, 400)
        assert await reopened.org_usage(1, clock() + 50) == OrgUsage(1, 300)
    finally:
        await reopened.aclose()


async def test_filesystem_journal_of_an_older_version_gets_lengths_at_open(
    fs: FilesystemStore, root: Path, clock: ManualClock
) -> None:
    """Journal lines without ``dashboard_length`` (as older versions wrote them) are rewritten
    with it, read from the records; a ghost entry (no record) is dropped on the way."""
    stored = [
        await fs.insert(new_record(clock(), dashboard=dashboard(120))),
        await fs.insert(new_record(clock(), org_id=2, dashboard=dashboard(80), expires_in=9)),
    ]
    ghost = new_record(clock()).stored_as(stored[-1].id + 1)
    legacy = [encode_journal_add(meta, None) for meta in (*stored, ghost)]
    assert all(b"dashboard_length" not in line for line in legacy)
    (root / "journal").write_bytes(b"".join(legacy))

    reopened = await FilesystemStore.open(config_for(root))
    try:
        assert await reopened.org_usage(1, clock()) == OrgUsage(1, 120)
        assert await reopened.org_usage(2, clock()) == OrgUsage(1, 80)
        assert await reopened.org_usage(2, clock() + 9) == OrgUsage(0, 0)
    finally:
        await reopened.aclose()
    lines = journal_lines(root)
    assert len(lines) == 2
    assert all(b'"dashboard_length":' in line for line in lines)


async def test_sqlite_database_of_an_older_version_gets_totals_at_open(
    tmp_path: Path, clock: ManualClock
) -> None:
    """A schema-1 database (before the totals): the migration counts what it holds."""
    path = tmp_path / "old.db"
    raw = sqlite3.connect(path)
    for statement in database._statements(database._MIGRATIONS[0]):
        raw.execute(statement)
    rows = [
        (new_record(clock(), org_id=1, dashboard=dashboard(100)).meta, dashboard(100)),
        (new_record(clock(), org_id=1, dashboard=dashboard(50)).meta, dashboard(50)),
        (new_record(clock(), org_id=3, dashboard=dashboard(70)).meta, dashboard(70)),
    ]
    for meta, body in rows:
        raw.execute(
            "INSERT INTO snapshot (key, delete_key_hash, name, org_id, user_id, external,"
            " external_url, external_delete_url, created, updated, expires, etag, dashboard)"
            " VALUES (?, ?, ?, ?, ?, 0, '', '', ?, ?, ?, ?, ?)",
            (*_columns(meta), body),
        )
    raw.execute("PRAGMA user_version = 1")
    raw.commit()
    raw.close()

    store = await open_store(StorageConfig.using("sqlite", SQLiteSettings(path=str(path))))
    try:
        assert await store.org_usage(1, clock()) == OrgUsage(2, 150)
        assert await store.org_usage(3, clock()) == OrgUsage(1, 70)
        await store.insert(new_record(clock(), org_id=3, dashboard=dashboard(30)))
        assert await store.org_usage(3, clock()) == OrgUsage(2, 100)
    finally:
        await store.aclose()


def _columns(meta: SnapshotMeta) -> tuple[object, ...]:
    return (
        meta.key,
        meta.delete_key_hash,
        meta.name,
        meta.org_id,
        meta.user_id,
        meta.created,
        meta.updated,
        meta.expires,
        meta.etag,
    )


async def test_redis_snapshots_stored_before_the_totals_are_never_uncounted(
    redis_storage_config: StorageConfig, clock: ManualClock
) -> None:
    """Stored by an older version (no usage keys), such a snapshot weighs nothing, and its
    delete or expiry takes nothing off what newer snapshots count."""
    store = await open_store(redis_storage_config)
    settings = redis_settings(redis_storage_config)
    client = redis.asyncio.Redis.from_url(settings.url)
    try:
        old = await store.insert(new_record(clock(), dashboard=dashboard(500)))
        expiring = await store.insert(new_record(clock(), dashboard=dashboard(700), expires_in=5))
        prefix = f"{settings.key_prefix}{{meta}}"
        await client.delete(f"{prefix}:s:1", f"{prefix}:b:1", f"{prefix}:e:1")
        new = await store.insert(new_record(clock(), dashboard=dashboard(100)))
        assert await store.org_usage(1, clock()) == OrgUsage(1, 100)
        await store.delete(old.key, clock(), expect_id=old.id)
        clock.advance(5)
        assert [m.id for m in await store.delete_expired(clock())] == [expiring.id]
        assert await store.org_usage(1, clock()) == OrgUsage(1, 100)
        await store.delete(new.key, clock(), expect_id=new.id)
        assert await store.org_usage(1, clock()) == OrgUsage(0, 0)
    finally:
        await client.aclose()
        await store.aclose()
