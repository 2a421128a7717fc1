"""Filesystem backend: one file per snapshot under ``[storage.filesystem] path``.

No server to run and nothing to install; several worker processes may share one root on a local
filesystem (``flock`` must work there: local disks do, NFS emulates it on Linux).

Modules: ``filesystem_disk`` (layout, sharding, atomic writes, the lock), ``filesystem_format``
(record = checksummed JSON header line + the exact dashboard bytes; index, counter and journal
lines), ``filesystem_journal`` (the listing journal), ``filesystem_ops`` (the operations).

Writes and crash safety. Every file but the journal is written as temp file (same directory) ->
write -> fsync -> ``os.replace`` -> fsync of the directory, the temp file removed on any error,
so a reader sees a whole file or none; the journal is only appended to, in whole checksummed
lines. Writers (insert, delete, delete_expired) hold an exclusive ``flock`` on ``<root>/lock``,
which makes "is the key or deleteKey taken? then write" atomic across processes; readers take no
lock. An insert writes, in this order:

1. the id counter, so an id is durable before anyone sees it (ids are never reused; an id burnt
   by a failed insert is skipped);
2. the delete-key index file ``deletekeys/ab/c/<hash>.dk`` naming the view key;
3. a ``+meta`` line in the journal, fsynced;
4. the record file ``records/ab/c/<sha256(key)>.rec``. Its rename is the commit point.

The record is the source of truth: an index file counts only if the record it names is intact
and names the same deleteKey hash, and a journal entry is listed only if its record file holds
that id. A crash before step 4 therefore leaves nothing visible: a dangling index (removed when
next looked up, or overwritten by the next insert of that deleteKey) and a ghost journal entry
(skipped by listings, dropped by delete_expired once expired). A crash after step 4 loses
nothing, because steps 1-3 were durable first. A delete unlinks the record (commit point, with a
directory fsync), then the index, then appends ``-id``; a crash in between leaves the same
harmless debris. ``open`` removes stray temp files under the lock (no writer is mid-way then).

Costs (N = snapshots). get: one file read, the dashboard hashed to verify it; get_by_delete_key
and delete: the same plus one tiny index read. insert: counter, index and record writes and one
journal append (4 file + 3 directory fsyncs, ~5 ms on a VM disk), serialised across processes.
list_snapshots: replays only journal lines appended since the last call, filters all N entries
in memory, then reads the header of each match up to the end of the requested page. Measured
with 100k snapshots: ~0.05 s for page 1 of 1000, ~0.15 s for page 5; memory ~0.7 KB per snapshot
per worker process. delete_expired: an in-memory scan of the journal, then per removed record
two unlinks and two directory fsyncs, in batches of 32 so writers are never held up for long.
``open``: one walk of the 4096 shard directories plus a full journal replay (~1 s at 100k); if
the journal file is missing it is rebuilt from the records (reads every record header: ~5 s).

Links and ownership. No symbolic link under the root is ever followed: every file and directory
is reached from the root one component at a time with ``O_NOFOLLOW`` (``filesystem_disk``), and
``open`` refuses a link anywhere in the tree, a root that is itself a link, and a root owned by
another user; a root others may read or write is narrowed to ``0o700`` (with a warning).

Blocking calls run on a dedicated thread pool, never on the event loop; ``OSError`` (and any
call after ``aclose``) becomes ``StorageUnavailable`` in ``_run``, the one error boundary. At
``open`` the message names the path and the OS error; per request, clients see only "Storage
unavailable" and the log gets the cause.

A corrupt record (torn, truncated, edited) is logged and treated as absent: its dashboard is
never returned, and an insert of its key replaces it. Listings check a record's header checksum
and size, not the dashboard's checksum, so a record whose dashboard was
damaged in place (same size) still appears in a list while get/get_by_delete_key/delete say 404.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Self, TypeVar, TypeVarTuple

from snapshot_server.config import StorageConfig
from snapshot_server.errors import SnapshotNotFound, StorageUnavailable, StoreClosed
from snapshot_server.models import NewSnapshot, Snapshot, SnapshotMeta

from .filesystem_ops import SyncStore

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

_THREADS = 8
_EXPIRE_BATCH = 32


class FilesystemStore:
    def __init__(self, sync: SyncStore, executor: ThreadPoolExecutor) -> None:
        self._sync = sync
        self._executor = executor
        # Writers queue here rather than as threads blocked in flock(), so a burst of inserts
        # cannot occupy every pool thread and starve the readers.
        self._write_lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(cls, config: StorageConfig) -> Self:
        """Create the root (``0o700``) if needed, clean up crash debris, return a ready store.

        Raises ``StorageUnavailable`` naming the path and the OS error if the root cannot be
        created or used: a root that is a symbolic link or belongs to another user is refused,
        one that others may read or write is narrowed to ``0o700``, and a symbolic link
        anywhere under it is refused.
        """
        executor = ThreadPoolExecutor(_THREADS, thread_name_prefix="snapshot-fs")
        store = cls(SyncStore(config.filesystem.path), executor)
        root = store._sync.layout.root
        try:
            await store._run(store._sync.prepare)
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
        self,
        org_id: int,
        user_id: int | None,
        query: str,
        limit: int,
        page: int,
        now: float,
    ) -> list[SnapshotMeta]:
        return await self._run(self._sync.list_snapshots, org_id, user_id, query, limit, page, now)

    async def delete(self, key: str, now: float, *, expect_id: int) -> SnapshotMeta:
        async with self._write_lock:
            return _found(await self._run(self._sync.delete, key, now, expect_id))

    async def delete_by_delete_key(self, delete_key_hash: str, now: float) -> SnapshotMeta:
        async with self._write_lock:
            return _found(await self._run(self._sync.delete_by_delete_key, delete_key_hash, now))

    async def delete_expired(self, now: float, limit: int = 1000) -> list[SnapshotMeta]:
        candidates = await self._run(self._sync.expired_candidates, now)
        removed: list[SnapshotMeta] = []
        # In small batches, each under the lock on its own: a large cleanup (two unlinks and
        # two directory fsyncs per record) must not hold inserts and deletes back for long.
        for start in range(0, len(candidates), _EXPIRE_BATCH):
            if len(removed) >= limit:
                break
            batch = candidates[start : start + _EXPIRE_BATCH]
            async with self._write_lock:
                removed += await self._run(
                    self._sync.remove_expired, batch, now, limit - len(removed)
                )
        return removed

    async def ping(self) -> None:
        await self._run(self._sync.ping)

    async def aclose(self) -> None:
        """Refuse new operations, wait for running ones to finish, then stop the thread pool."""
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(self._executor.shutdown, wait=True)
        )

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
