"""SQLite group commit: concurrent inserts share one transaction, and each caller learns its own
outcome, only once the transaction holding its row has committed.

Failures are made for real, by triggers in the database file: ``RAISE(ABORT)`` undoes one
statement (the transaction goes on), ``RAISE(ROLLBACK)`` ends the whole transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest

from backends.sqlite import SQLiteStore
from backends.sqlite.database import connect
from backends.sqlite.group_commit import InsertBatcher
from snapshot_server.errors import SnapshotExists, StorageUnavailable
from snapshot_server.models import NewSnapshot, SnapshotMeta
from tests.backends.test_sqlite import sqlite_at
from tests.support import ManualClock, new_record


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = await SQLiteStore.open(sqlite_at(tmp_path / "s.db"))
    try:
        yield opened
    finally:
        await opened.aclose()


def poison(path: Path, action: str) -> None:
    """From now on, inserting a snapshot named "poison" fails with ``RAISE(action)``."""
    with closing(sqlite3.connect(path)) as other, other:
        other.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON snapshot WHEN NEW.name = 'poison'"
            f" BEGIN SELECT RAISE({action}, 'poisoned'); END"
        )


def stored_keys(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as other:
        return {key for (key,) in other.execute("SELECT key FROM snapshot")}


async def insert_all(
    store: SQLiteStore, records: list[NewSnapshot]
) -> list[SnapshotMeta | BaseException]:
    """Insert ``records`` concurrently: all are queued before the first batch is written."""
    return await asyncio.gather(*(store.insert(r) for r in records), return_exceptions=True)


async def test_a_taken_key_fails_its_own_caller_only(
    store: SQLiteStore, tmp_path: Path, clock: ManualClock
) -> None:
    held = await store.insert(new_record(clock(), "held", "held-dk"))
    records = [
        new_record(clock(), "a"),
        new_record(clock(), "held"),  # taken by a stored snapshot
        new_record(clock(), "b", "b-dk"),
        new_record(clock(), "b"),  # taken by an earlier row of the same batch
        new_record(clock(), "c", "b-dk"),  # deleteKey taken within the batch
        new_record(clock(), "d", "held-dk"),  # deleteKey taken by a stored snapshot
        new_record(clock(), "e"),
    ]
    results = await insert_all(store, records)
    outcomes = [r.field if isinstance(r, SnapshotExists) else type(r).__name__ for r in results]
    assert outcomes == [
        "SnapshotMeta", "key", "SnapshotMeta", "key", "deleteKey", "deleteKey", "SnapshotMeta"
    ]  # fmt: skip
    assert stored_keys(tmp_path / "s.db") == {"held", "a", "b", "e"}
    ids = [held.id] + [r.id for r in results if isinstance(r, SnapshotMeta)]
    assert ids == sorted(set(ids))  # new, increasing ids
    assert (await store.get("b", clock())).meta == results[2]


async def test_a_failed_statement_fails_its_caller_and_the_batch_commits(
    store: SQLiteStore, tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "s.db"
    poison(path, "ABORT")
    names = ["ok", "ok", "poison", "ok", "poison", "ok"]
    results = await insert_all(
        store, [new_record(clock(), f"k{i}", name=n) for i, n in enumerate(names)]
    )
    for name, result in zip(names, results, strict=True):
        if name == "poison":
            assert isinstance(result, StorageUnavailable)
            assert isinstance(result.__cause__, sqlite3.IntegrityError)
        else:
            assert isinstance(result, SnapshotMeta)
    assert stored_keys(path) == {"k0", "k1", "k3", "k5"}


async def test_a_transaction_rolled_back_fails_every_caller_of_its_batch(
    store: SQLiteStore, tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "s.db"
    poison(path, "ROLLBACK")
    names = ["ok", "ok", "poison", "ok"]
    results = await insert_all(
        store, [new_record(clock(), f"k{i}", name=n) for i, n in enumerate(names)]
    )
    # They shared one transaction, so rows inserted before the poisoned one are gone too:
    # nobody may be told "created".
    assert all(isinstance(r, StorageUnavailable) for r in results)
    assert stored_keys(path) == set()
    await store.insert(new_record(clock(), "after"))  # the next batch is a new transaction
    assert stored_keys(path) == {"after"}


async def test_batches_are_bounded_and_fail_apart(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "s.db"
    db = await connect(str(path))
    try:
        poison(path, "ROLLBACK")
        batcher = InsertBatcher(db, max_rows=2)
        names = ["ok", "ok", "ok", "poison", "ok"]
        rows = [
            {**new_record(clock(), f"k{i}", name=n).meta.fields(), "dashboard": b"{}"}
            for i, n in enumerate(names)
        ]
        results = await asyncio.gather(*(batcher.insert(r) for r in rows), return_exceptions=True)
        # Batches of two: (k0, k1), (k2, poison), (k4). Only the poisoned one's batch fails.
        assert [isinstance(r, int) for r in results] == [True, True, False, False, True]
        assert stored_keys(path) == {"k0", "k1", "k4"}
    finally:
        await db.close()


async def test_every_concurrent_create_is_committed_when_it_returns(
    store: SQLiteStore, tmp_path: Path, clock: ManualClock
) -> None:
    """Read from another connection the moment each insert returns: a caller answered before
    the commit holding its row would find nothing there."""
    other = sqlite3.connect(tmp_path / "s.db")

    async def insert_and_look(record: NewSnapshot) -> int:
        stored = await store.insert(record)
        (count,) = other.execute(
            "SELECT count(*) FROM snapshot WHERE key = ?", (stored.key,)
        ).fetchone()
        return int(count)

    try:
        counts = await asyncio.gather(*(insert_and_look(new_record(clock())) for _ in range(50)))
    finally:
        other.close()
    assert counts == [1] * 50


async def test_an_insert_after_close_is_storage_unavailable(
    tmp_path: Path, clock: ManualClock
) -> None:
    store = await SQLiteStore.open(sqlite_at(tmp_path / "s.db"))
    pending = asyncio.ensure_future(store.insert(new_record(clock(), "queued")))
    await asyncio.sleep(0)  # queued, not yet written
    await store.aclose()
    with pytest.raises(StorageUnavailable):
        await store.insert(new_record(clock()))
    # The one queued before the close was either written before it or refused: never lost
    # while reported as created.
    try:
        stored = await pending
    except StorageUnavailable:
        assert stored_keys(tmp_path / "s.db") == set()
    else:
        assert stored_keys(tmp_path / "s.db") == {stored.key}


async def test_a_create_cancelled_before_its_batch_is_not_written(
    store: SQLiteStore, tmp_path: Path, clock: ManualClock
) -> None:
    tasks = [asyncio.ensure_future(store.insert(new_record(clock(), f"k{i}"))) for i in range(3)]
    await asyncio.sleep(0)  # all three queued; the batch is not written yet
    tasks[1].cancel()
    first, cancelled, last = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(cancelled, asyncio.CancelledError)
    assert isinstance(first, SnapshotMeta)
    assert isinstance(last, SnapshotMeta)
    assert stored_keys(tmp_path / "s.db") == {"k0", "k2"}
