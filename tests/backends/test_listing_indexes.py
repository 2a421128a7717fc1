"""The listing indexes of the SQLite and filesystem backends: a database of schema 2 gets them
at open and lists from them (no sort of the org); the filesystem's in-memory index by scope
is rebuilt from the journal (or from the records, when the journal is lost) and keeps id order
whatever order the journal holds its lines in."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from backends.filesystem import FilesystemStore
from backends.filesystem.disk import write_atomic
from backends.filesystem.format import encode_journal_add, encode_record
from backends.sqlite import SQLiteSettings, SQLiteStore, database
from snapshot_server.config import StorageConfig
from snapshot_server.models import ListQuery, ListScope, Snapshot
from tests.backends.fs_support import config_for, journal_lines
from tests.support import ManualClock, new_record

LIST_SQL = (
    "SELECT id FROM snapshot WHERE org_id = 1 {user} AND (expires IS NULL OR expires > 0)"
    " AND instr(casefold(name), 'a') > 0 ORDER BY id LIMIT 100"
)


def plan(path: Path, sql: str) -> str:
    with closing(sqlite3.connect(path)) as db:
        db.create_function("casefold", 1, str.casefold)
        return " | ".join(row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}"))


async def test_a_schema_2_database_gets_the_listing_indexes_at_open(
    tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as raw:
        for script in database._MIGRATIONS[:2]:
            for statement in database._statements(script):
                raw.execute(statement)
        raw.execute("PRAGMA user_version = 2")
        raw.commit()
    assert "TEMP B-TREE" in plan(path, LIST_SQL.format(user=""))  # sorted the org's rows

    config = StorageConfig.using("sqlite", SQLiteSettings(path=str(path)))
    store = await SQLiteStore.open(config)
    try:
        stored = [
            await store.insert(new_record(clock(), name=f"a{i}", user_id=1 + i % 2))
            for i in range(6)
        ]
        page = await store.list_snapshots(ListScope(1), ListQuery("", 4, 1), clock())
        assert page == stored[:4]
        page = await store.list_snapshots(ListScope(1, 2), ListQuery("A", 2, 2), clock())
        assert page == [stored[5]]
    finally:
        await store.aclose()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (database.SCHEMA_VERSION,)
    for user in ("", "AND user_id = 2"):
        used = plan(path, LIST_SQL.format(user=user))
        assert "COVERING INDEX" in used
        assert "TEMP B-TREE" not in used


async def test_filesystem_lists_in_id_order_from_a_journal_out_of_order(
    tmp_path: Path, clock: ManualClock
) -> None:
    root = tmp_path / "fs"
    store = await FilesystemStore.open(config_for(root))
    stored = [await store.insert(new_record(clock(), user_id=1 + i % 2)) for i in range(6)]
    await store.aclose()
    lines = journal_lines(root)
    (root / "journal").write_bytes(b"\n".join(reversed(lines)) + b"\n")  # as by a hand edit

    store = await FilesystemStore.open(config_for(root))
    try:
        assert await store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock()) == stored
        user = await store.list_snapshots(ListScope(1, 2), ListQuery("", 2, 1), clock())
        assert user == [stored[1], stored[3]]
        later = await store.insert(new_record(clock(), user_id=2))
        user = await store.list_snapshots(ListScope(1, 2), ListQuery("", 2, 2), clock())
        assert user == [stored[5], later]
    finally:
        await store.aclose()


async def test_filesystem_index_is_rebuilt_from_the_records_after_losing_the_journal(
    tmp_path: Path, clock: ManualClock
) -> None:
    """The scope index lives only in memory: a restart after the journal was lost (a crash
    that took it, or a hand removal) rebuilds it from the records, ghosts dropped."""
    root = tmp_path / "fs"
    store = await FilesystemStore.open(config_for(root))
    stored = [await store.insert(new_record(clock(), user_id=1 + i % 3)) for i in range(7)]
    await store.delete(stored[2].key, clock(), expect_id=stored[2].id)
    await store.aclose()
    (root / "journal").unlink()

    store = await FilesystemStore.open(config_for(root))
    try:
        live = [m for m in stored if m.id != stored[2].id]
        assert await store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock()) == live
        user = await store.list_snapshots(ListScope(1, 3), ListQuery("", 10, 1), clock())
        assert user == [stored[5]]
        assert len(journal_lines(root)) == len(live)
    finally:
        await store.aclose()


async def test_filesystem_page_skips_ghosts_and_still_fills(
    tmp_path: Path, clock: ManualClock
) -> None:
    """Journal entries whose records were never committed (a crash in between) take no place
    in a page: the page is filled from the entries after them."""
    root = tmp_path / "fs"
    store = await FilesystemStore.open(config_for(root))
    try:
        first = await store.insert(new_record(clock()))
        ghosts = [new_record(clock()).stored_as(first.id + 1 + i) for i in range(3)]
        with (root / "journal").open("ab") as journal:
            journal.write(b"".join(encode_journal_add(g, 10) for g in ghosts))
        (root / "counter").write_bytes(b"")  # recovered from the journal: after the ghosts
        rest = [await store.insert(new_record(clock())) for _ in range(3)]
        page = await store.list_snapshots(ListScope(1), ListQuery("", 3, 1), clock())
        assert page == [first, *rest[:2]]
        page = await store.list_snapshots(ListScope(1), ListQuery("", 3, 2), clock())
        assert page == [rest[2]]
    finally:
        await store.aclose()


async def test_filesystem_entry_listed_once_its_record_commits(
    tmp_path: Path, clock: ManualClock
) -> None:
    """An entry whose record is not there yet (an insert between its journal line and its
    commit) is left out, and listed once the record is committed: only records found
    committed are remembered as such."""
    root = tmp_path / "fs"
    store = await FilesystemStore.open(config_for(root))
    try:
        first = await store.insert(new_record(clock()))
        pending = new_record(clock()).stored_as(first.id + 1)
        with (root / "journal").open("ab") as journal:
            journal.write(encode_journal_add(pending, 25))
        page = await store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock())
        assert page == [first]
        layout = store._sync.layout
        path = layout.record_path(pending.key)
        write_atomic(layout, path, encode_record(Snapshot(pending, b"{" + b" " * 23 + b"}")))
        page = await store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock())
        assert page == [first, pending]
        await store.delete(first.key, clock(), expect_id=first.id)
        page = await store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock())
        assert page == [pending]
    finally:
        await store.aclose()
