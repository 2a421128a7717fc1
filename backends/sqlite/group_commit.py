"""Group commit for SQLite inserts: concurrent creates share one transaction and one fsync.

With ``synchronous = FULL`` every commit waits for the disk, so one transaction per create
made the disk, not the CPU, the limit on creates. ``InsertBatcher`` queues the inserts that
arrive while a transaction is being written and writes them all in the next one (at most
``max_rows`` rows or ``max_bytes`` of dashboards), in a single hop to the database thread.

Each caller learns its own outcome, and only once the transaction holding its row has
committed, so durability is what it was: an acknowledged create is on disk.

* A taken key or deleteKey (by a stored snapshot, or by an earlier row of the same batch)
  fails that caller alone with ``SnapshotExists``; its row is not written, the others are.
* A statement that fails by itself (SQLite undoes just that statement) fails that caller
  alone with ``StorageUnavailable``.
* An error that ends the whole transaction (SQLite rolled it back, or BEGIN or COMMIT
  failed: locked, disk full, I/O) fails every caller of the batch with ``StorageUnavailable``:
  none of their rows is stored, and nobody was told otherwise.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from snapshot_server.errors import SnapshotError, SnapshotExists, StorageUnavailable

# A live rotation alias holds its key too (the record's ``created`` is the service's now).
_ALIASED = "SELECT 1 FROM snapshot_alias WHERE key = :key AND grace_until > :created"
INSERT = (
    "INSERT INTO snapshot (key, delete_key_hash, name, org_id, user_id, external,"
    " external_url, external_delete_url, created, updated, expires, etag, password_hash,"
    " dashboard)"
    " SELECT :key, :delete_key_hash, :name, :org_id, :user_id, :external, :external_url,"
    " :external_delete_url, :created, :updated, :expires, :etag, :password_hash, :dashboard"
    f" WHERE NOT EXISTS ({_ALIASED})"
    " ON CONFLICT DO NOTHING RETURNING id"
)
# After the INSERT inserted nothing: which key is taken (1: the view key, by a snapshot or an
# alias; 0: the deleteKey). In the same transaction, so the row that holds it is still there.
TAKEN = (
    "SELECT max(taken) FROM (SELECT key = :key AS taken FROM snapshot"
    " WHERE key = :key OR delete_key_hash = :delete_key_hash UNION ALL"
    " SELECT 1 FROM snapshot_alias WHERE key = :key AND grace_until > :created)"
)

MAX_ROWS = 128
MAX_BYTES = 32 * 1024 * 1024

Outcome = int | SnapshotError
"""A row's outcome: its new id, or the error its caller gets."""


@dataclass(slots=True)
class _Pending:
    params: dict[str, Any]
    size: int
    done: asyncio.Future[int] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class InsertBatcher:
    """Insert rows of ``snapshot`` through ``db``, concurrent ones in one transaction."""

    def __init__(
        self, db: aiosqlite.Connection, *, max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES
    ) -> None:
        self._db = db
        self._max_rows = max_rows
        self._max_bytes = max_bytes
        self._queue: deque[_Pending] = deque()
        self._writer: asyncio.Task[None] | None = None

    async def insert(self, params: dict[str, Any]) -> int:
        """Insert the row ``params`` names (every column but ``id``); its new id once committed.

        Raises ``SnapshotExists`` (nothing written) or ``StorageUnavailable`` (the driver's
        error as its cause; nothing written, unless the loop stopped mid-write). A caller
        cancelled before its batch starts has its row dropped, unwritten."""
        pending = _Pending(params, len(params["dashboard"]))
        self._queue.append(pending)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_all())
        return await pending.done

    async def _write_all(self) -> None:
        """Write batches until the queue is empty; new arrivals join the next batch."""
        batch: list[_Pending] = []
        try:
            while batch := self._next_batch():
                rows = [pending.params for pending in batch]
                outcomes: list[Outcome]
                try:
                    # aiosqlite's own queue to its thread (``_execute``), where the statements
                    # of the batch run back to back: no other statement of this connection
                    # can run inside the transaction and read a row not yet committed.
                    outcomes = await self._db._execute(  # type: ignore[no-untyped-call]
                        _write, self._db._conn, rows
                    )
                except (sqlite3.Error, ValueError) as exc:  # ValueError: connection closed
                    outcomes = [_unavailable(exc) for _ in batch]
                for pending, outcome in zip(batch, outcomes, strict=True):
                    _settle(pending.done, outcome)
        except BaseException as exc:
            # Cancelled (the loop is shutting down) or a bug: nobody may wait for ever. (Rows
            # of the batch in flight may be committed all the same: like a lost reply.)
            for pending in [*batch, *self._queue]:
                _settle(pending.done, _unavailable(exc))
            self._queue.clear()
            raise
        finally:
            self._writer = None

    def _next_batch(self) -> list[_Pending]:
        """The oldest queued rows, up to the bounds (at least one row, however large). Rows
        whose callers stopped waiting (their request cancelled) are dropped unwritten."""
        batch: list[_Pending] = []
        size = 0
        while self._queue and len(batch) < self._max_rows:
            pending = self._queue[0]
            if batch and size + pending.size > self._max_bytes:
                break
            self._queue.popleft()
            if pending.done.done():
                continue
            batch.append(pending)
            size += pending.size
        return batch


def _write(conn: sqlite3.Connection, rows: list[dict[str, Any]]) -> list[Outcome]:
    """Run in the database thread: insert ``rows`` in one transaction and commit.
    Returns one outcome per row; raises ``sqlite3.Error`` when the transaction as a whole
    failed (nothing of it is stored then)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        outcomes: list[Outcome] = []
        for params in rows:
            try:
                row = conn.execute(INSERT, params).fetchone()
                if row is None:
                    (key_taken,) = conn.execute(TAKEN, params).fetchone()
            except sqlite3.Error as exc:
                if not conn.in_transaction:
                    raise  # SQLite rolled back the whole transaction: every row is gone
                outcomes.append(_unavailable(exc))  # only this statement was undone
                continue
            if row is not None:
                outcomes.append(int(row[0]))
            elif key_taken is None:
                outcomes.append(StorageUnavailable("insert conflicted with no stored row"))
            else:
                outcomes.append(SnapshotExists("key" if key_taken else "deleteKey"))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


def _unavailable(cause: BaseException) -> StorageUnavailable:
    error = StorageUnavailable()
    error.__cause__ = cause
    return error


def _settle(done: asyncio.Future[int], outcome: Outcome) -> None:
    if done.done():
        return  # the caller was cancelled while its row was written
    if isinstance(outcome, int):
        done.set_result(outcome)
    else:
        done.set_exception(outcome)
