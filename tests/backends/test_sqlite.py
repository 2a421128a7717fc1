"""SQLite-specific guarantees beyond the shared contract."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from backends.sqlite import SQLiteSettings, SQLiteStore
from snapshot_server.config import StorageConfig
from snapshot_server.errors import StorageUnavailable
from snapshot_server.models import ListQuery, ListScope, hash_secret
from tests.support import ManualClock, new_record


def sqlite_at(path: Path) -> StorageConfig:
    return StorageConfig.using("sqlite", SQLiteSettings(path=str(path)))


async def test_an_acknowledged_insert_is_already_committed(
    tmp_path: Path, clock: ManualClock
) -> None:
    """An insert that returns is committed: another connection sees it at once, so it survives
    the process being killed the next instant (``tests/crash`` kills it for real). Fails if the
    store's connection runs inside a transaction it commits later (or never)."""
    path = tmp_path / "s.db"
    store = await SQLiteStore.open(sqlite_at(path))
    other = sqlite3.connect(path)
    try:
        for attempt in range(20):
            stored = await store.insert(new_record(clock(), f"acked-{attempt}"))
            (count,) = other.execute(
                "SELECT count(*) FROM snapshot WHERE key = ?", (stored.key,)
            ).fetchone()
            assert count == 1, f"insert {attempt} was acknowledged before its commit"
    finally:
        other.close()
        await store.aclose()


async def test_driver_errors_are_storage_unavailable(tmp_path: Path, clock: ManualClock) -> None:
    """Every operation turns an ``sqlite3.Error`` into ``StorageUnavailable`` (here: the table
    dropped under the store by another connection)."""
    path = tmp_path / "s.db"
    store = await SQLiteStore.open(sqlite_at(path))
    try:
        stored = await store.insert(new_record(clock(), delete_key="dk"))
        with closing(sqlite3.connect(path)) as other, other:
            other.execute("DROP TABLE snapshot")
        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "insert": lambda: store.insert(new_record(clock())),
            "get": lambda: store.get(stored.key, clock()),
            "get_by_delete_key": lambda: store.get_by_delete_key(hash_secret("dk"), clock()),
            "list_snapshots": lambda: store.list_snapshots(
                ListScope(1), ListQuery("", 10, 1), clock()
            ),
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


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common default umask, under which SQLite on its own makes a world-readable database."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask_022")
async def test_database_directories_and_files_are_private(
    tmp_path: Path, clock: ManualClock
) -> None:
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o755)
    path = existing / "new" / "deeper" / "s.db"
    store = await SQLiteStore.open(sqlite_at(path))
    try:
        await store.insert(new_record(clock()))
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert mode(existing / "new") == mode(existing / "new" / "deeper") == 0o700
        assert mode(existing) == 0o755  # not created here: left as the operator made it
    finally:
        await store.aclose()


@pytest.mark.usefixtures("umask_022")
async def test_a_world_readable_database_of_an_older_version_is_narrowed(
    tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "s.db"
    with closing(sqlite3.connect(path)) as old, old:  # SQLite's own default: 0644
        old.execute("PRAGMA journal_mode = WAL")
        old.execute("CREATE TABLE t (x)")
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert {mode(f) for f in files} == {0o644}
        store = await SQLiteStore.open(sqlite_at(path))
        try:
            assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
            assert "narrowing" in caplog.text
        finally:
            await store.aclose()


async def test_a_failed_open_names_the_path_and_leaves_no_thread_behind(tmp_path: Path) -> None:
    """aiosqlite's own connect, when it cannot open the file, leaves its worker thread to report
    to the event loop later; if the loop is closed by then (the server exiting), the thread dies
    with "RuntimeError: Event loop is closed" on stderr. The store opens the file itself."""
    before = set(threading.enumerate())
    directory = tmp_path / "a-directory.db"
    directory.mkdir()
    with pytest.raises(StorageUnavailable) as info:
        await SQLiteStore.open(sqlite_at(directory))
    # The event loop's default executor keeps its (idle, harmless) "asyncio_N" threads.
    left = {t for t in set(threading.enumerate()) - before if not t.name.startswith("asyncio_")}
    assert left == set()
    assert str(directory) in info.value.message
    assert "Is a directory" in info.value.message
