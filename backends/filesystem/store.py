"""``FilesystemStore``: the filesystem backend's ``SnapshotStore``, running the blocking
operations of ``ops`` on a dedicated thread pool, never on the event loop.

``_run`` is the one error boundary: ``OSError`` (and any call after ``aclose``) becomes
``StorageUnavailable`` there. At ``open`` the message names the path and the OS error; per
request, clients see only "Storage unavailable" and the log gets the cause.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ClassVar, Self, TypeVar, TypeVarTuple

from snapshot_server.config import StorageConfig
from snapshot_server.config_reader import PathSettings
from snapshot_server.errors import (
    SnapshotExists,
    SnapshotNotFound,
    StorageUnavailable,
    StoreClosed,
)
from snapshot_server.models import (
    ListQuery,
    ListScope,
    NewSnapshot,
    Snapshot,
    SnapshotChanges,
    SnapshotMeta,
)
from snapshot_server.storage import OrgUsage, StoreSettings

from ..deletions import SharedDeletions
from .ops import SyncStore

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

_THREADS = 8
_EXPIRE_BATCH = 32


@dataclass(frozen=True, slots=True)
class FilesystemSettings(PathSettings):
    """``[storage.filesystem]``."""

    path: str = "snapshots"  # the root directory; created 0700 if missing


class FilesystemStore:
    Settings: ClassVar[type[StoreSettings]] = FilesystemSettings
    shared_by_processes: ClassVar[bool] = True

    def __init__(self, sync: SyncStore, executor: ThreadPoolExecutor) -> None:
        self._sync = sync
        self._executor = executor
        # Writers queue here rather than as threads blocked in flock(), so a burst of inserts
        # cannot occupy every pool thread and starve the readers.
        self._write_lock = asyncio.Lock()
        self._closed = False
        self.deletions: SharedDeletions | None = None  # set at open: ``deletions`` under the root

    @classmethod
    async def open(cls, config: StorageConfig) -> Self:
        """Create the root (``0o700``) if needed, clean up crash debris, return a ready store.

        Raises ``StorageUnavailable`` naming the path and the OS error if the root cannot be
        created or used: a root that is a symbolic link or belongs to another user is refused,
        one that others may read or write is narrowed to ``0o700``, and a symbolic link
        anywhere under it is refused.
        """
        settings = FilesystemSettings.read(config.section())
        executor = ThreadPoolExecutor(_THREADS, thread_name_prefix="snapshot-fs")
        store = cls(SyncStore(settings.path), executor)
        root = store._sync.layout.root
        try:
            await store._run(store._sync.prepare)
            store.deletions = await store._run(SharedDeletions, store._sync.layout.deletions)
        except BaseException as exc:
            executor.shutdown(wait=False)
            if isinstance(exc, StorageUnavailable) and isinstance(exc.__cause__, OSError):
                raise StorageUnavailable(_open_error(root, exc.__cause__)) from exc.__cause__
            raise
        return store

    async def insert(self, record: NewSnapshot) -> SnapshotMeta:
        async with self._write_lock:
            return await self._run(self._sync.insert, record)

    async def get(self, key: str, now: float) -> Snapshot:
        return _found(await self._run(self._sync.get, key, now))

    async def get_by_delete_key(self, delete_key_hash: str, now: float) -> SnapshotMeta:
        return _found(await self._run(self._sync.get_by_delete_key, delete_key_hash, now))

    async def list_snapshots(
        self, scope: ListScope, query: ListQuery, now: float
    ) -> list[SnapshotMeta]:
        return await self._run(self._sync.list_snapshots, scope, query, now)

    async def org_usage(self, org_id: int, now: float) -> OrgUsage:
        return await self._run(self._sync.org_usage, org_id, now)

    async def delete(self, key: str, now: float, *, expect_id: int) -> SnapshotMeta:
        async with self._write_lock:
            return _found(await self._deleting(self._sync.delete, key, now, expect_id))

    async def delete_by_delete_key(self, delete_key_hash: str, now: float) -> SnapshotMeta:
        async with self._write_lock:
            return _found(
                await self._deleting(self._sync.delete_by_delete_key, delete_key_hash, now)
            )

    async def update(
        self, key: str, now: float, *, expect_id: int, changes: SnapshotChanges
    ) -> SnapshotMeta:
        async with self._write_lock:
            return _found(await self._deleting(self._sync.update, key, now, expect_id, changes))

    async def rotate(
        self,
        key: str,
        new_key: str,
        now: float,
        *,
        expect_id: int,
        updated: float,
        grace_until: float | None,
        etag: str | None = None,
    ) -> SnapshotMeta:
        async with self._write_lock:
            return _found(
                await self._deleting(
                    self._sync.rotate, key, new_key, now, expect_id, updated, grace_until, etag
                )
            )

    async def delete_expired(self, now: float, limit: int = 1000) -> list[SnapshotMeta]:
        removed: list[SnapshotMeta] = []
        # In small batches, each under the lock on its own: a large cleanup (two unlinks and
        # two directory fsyncs per record) must not hold inserts and deletes back for long.
        # Every candidate taken leaves the journal (removed, or dropped as a ghost), so each
        # round takes new ones.
        async with self._write_lock:
            await self._run(self._sync.sweep_aliases, now)
        while len(removed) < limit:
            wanted = min(_EXPIRE_BATCH, limit - len(removed))
            batch = await self._run(self._sync.expired_candidates, now, wanted)
            if not batch:
                break
            async with self._write_lock:
                removed += await self._deleting(self._sync.remove_expired, batch, now, wanted)
        return removed

    async def ping(self) -> None:
        await self._run(self._sync.ping)

    async def export_page(self, after_id: int, limit: int, now: float) -> list[Snapshot]:
        return await self._run(self._sync.export_page, after_id, limit, now)

    async def aclose(self) -> None:
        """Refuse new operations, wait for running ones to finish, then stop the thread pool."""
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(self._executor.shutdown, wait=True)
        )
        if self.deletions is not None:
            self.deletions.close()

    async def _deleting(self, func: Callable[[*Ts], T], *args: *Ts) -> T:
        """``_run`` a delete (or an update or rotate), then, before its caller answers, tell
        caches (``deletions``) if it removed or changed something (a truthy result) or its
        outcome is unknown (it raised ``StorageUnavailable``)."""
        try:
            result = await self._run(func, *args)
        except SnapshotExists:
            raise  # refused before anything was written
        except BaseException:
            self._bump()
            raise
        if result:
            self._bump()
        return result

    def _bump(self) -> None:
        if self.deletions is not None:
            self.deletions.bump()

    async def _run(self, func: Callable[[*Ts], T], *args: *Ts) -> T:
        """``func(*args)`` on the pool: the store's one error boundary. ``OSError``, or any call
        after ``aclose``, raises ``StorageUnavailable`` (the cause, naming the path, is logged
        by the caller's error handler; clients see only "Storage unavailable")."""
        if self._closed:
            raise StorageUnavailable() from StoreClosed()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, functools.partial(func, *args))
        except OSError as exc:
            raise StorageUnavailable() from exc


def _open_error(root: str, exc: OSError) -> str:
    """What the operator is told when the root cannot be used: the root, the path at fault if
    it is another one, and the OS's reason."""
    where = f"{exc.filename}: " if exc.filename and exc.filename != root else ""
    return f"cannot open filesystem storage {root}: {where}{exc.strerror or exc}"


def _found(value: T | None) -> T:
    if value is None:
        raise SnapshotNotFound()
    return value
