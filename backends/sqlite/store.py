"""``SQLiteStore``: the SQLite backend's ``SnapshotStore`` (the embedded default), on
``aiosqlite``; ``database`` opens the file and keeps its schema.

Each method is one SQL statement run to completion in one hop to the database thread, except
``insert`` (concurrent inserts share one transaction: ``group_commit``) and ``rotate`` (one
transaction of a few statements, also in one hop: ``_rotate``).

Rotation aliases live in ``snapshot_alias`` (old key, snapshot id, grace deadline); a lookup by
key finds either the snapshot's own row or, through an alias, its new one (``_fetch``).

Errors. ``_all`` is the one boundary: every ``sqlite3.Error`` becomes ``StorageUnavailable``
there, as does any call after ``aclose``. A row that does not read back as a snapshot (edited by
hand, foreign) is logged and treated as absent.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

import aiosqlite

from snapshot_server.config import StorageConfig
from snapshot_server.config_reader import PathSettings
from snapshot_server.errors import (
    SnapshotError,
    SnapshotExists,
    SnapshotNotFound,
    StorageUnavailable,
    StoreClosed,
)
from snapshot_server.models import (
    META_FIELDS,
    UNCHANGED,
    CorruptData,
    ListQuery,
    ListScope,
    NewSnapshot,
    Snapshot,
    SnapshotChanges,
    SnapshotMeta,
    meta_from_fields,
)
from snapshot_server.storage import OrgUsage, StoreSettings

from ..batching import ReadBatcher
from ..deletions import LocalDeletions, SharedDeletions
from .database import connect
from .group_commit import InsertBatcher

log = logging.getLogger(__name__)

T = TypeVar("T")

_META_COLUMNS = ", ".join(META_FIELDS)
_SNAPSHOT_COLUMNS = ", ".join(f"s.{f}" for f in META_FIELDS) + ", s.dashboard"
_UNEXPIRED = "(expires IS NULL OR expires > :now)"


def _meta(row: sqlite3.Row) -> SnapshotMeta:
    """The row's metadata, strictly checked. Raises ``CorruptData``."""
    fields = {f: row[f] for f in META_FIELDS}
    if fields["external"] in (0, 1):
        fields["external"] = bool(fields["external"])  # SQLite has no boolean type
    return meta_from_fields(fields)


def _snapshot(row: sqlite3.Row) -> Snapshot:
    """The row as a whole snapshot. Raises ``CorruptData``."""
    meta = _meta(row)
    dashboard = row["dashboard"]
    if not isinstance(dashboard, bytes):
        raise CorruptData("dashboard is not a BLOB")
    return Snapshot(meta, dashboard)


@dataclass(frozen=True, slots=True)
class SQLiteSettings(PathSettings):
    """``[storage.sqlite]``."""

    path: str = "snapshots.db"  # the database file; created, with its directories, if missing


def _rotate(conn: sqlite3.Connection, params: dict[str, Any]) -> sqlite3.Row | SnapshotError:
    """Run in the database thread: move the snapshot ``params`` names to its new key in one
    transaction (leaving an alias if a grace deadline is given). Returns its new row, or the
    error the caller gets (nothing changed then). Raises ``sqlite3.Error``."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        taken = conn.execute(
            "SELECT 1 FROM snapshot WHERE key = :new_key UNION ALL"
            " SELECT 1 FROM snapshot_alias a JOIN snapshot s ON s.id = a.snapshot_id"
            " WHERE a.key = :new_key AND a.grace_until > :now"
            " AND (s.expires IS NULL OR s.expires > :now)",
            params,
        ).fetchone()
        row = None
        if taken is None:
            row = conn.execute(
                "UPDATE snapshot SET key = :new_key, updated = :updated,"
                " etag = coalesce(:etag, etag)"
                f" WHERE key = :key AND id = :id AND {_UNEXPIRED} RETURNING {_META_COLUMNS}",
                params,
            ).fetchone()
        if row is None:
            conn.execute("ROLLBACK")
            return SnapshotExists("key") if taken else SnapshotNotFound()
        conn.execute("DELETE FROM snapshot_alias WHERE key = :new_key", params)  # a dead one
        if params["grace_until"] is not None and params["grace_until"] > params["now"]:
            conn.execute(
                "INSERT OR REPLACE INTO snapshot_alias (key, snapshot_id, grace_until)"
                " VALUES (:key, :id, :grace_until)",
                params,
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    result: sqlite3.Row = row
    return result


def _first(rows: list[sqlite3.Row]) -> sqlite3.Row:
    if not rows:
        raise SnapshotNotFound()
    return rows[0]


class SQLiteStore:
    Settings: ClassVar[type[StoreSettings]] = SQLiteSettings
    shared_by_processes: ClassVar[bool] = True

    def __init__(
        self, db: aiosqlite.Connection, path: str, deletions: LocalDeletions | SharedDeletions
    ) -> None:
        self._db = db
        self._path = path
        self._closed = False
        self._inserts = InsertBatcher(db)
        # Beside the database file (``deletions.py``); a private in-memory database has only
        # this process to tell.
        self.deletions = deletions
        self._reads = ReadBatcher[sqlite3.Row](self._fetch)

    @classmethod
    async def open(cls, config: StorageConfig) -> Self:
        path = SQLiteSettings.read(config.section()).path
        db = await connect(path)
        if path == ":memory:":
            return cls(db, path, LocalDeletions())
        try:
            deletions = await asyncio.to_thread(SharedDeletions, f"{path}-deletions")
        except OSError as exc:
            await db.close()
            raise StorageUnavailable(f"cannot open {path}-deletions: {exc}") from exc
        return cls(db, path, deletions)

    async def insert(self, record: NewSnapshot) -> SnapshotMeta:
        # Every field by name (the INSERT uses what it needs; its id is SQLite's to choose),
        # written with whatever other inserts arrive meanwhile: one transaction, one fsync.
        if self._closed:
            raise StorageUnavailable() from StoreClosed()
        params = {**record.meta.fields(), "dashboard": record.dashboard}
        return record.stored_as(await self._inserts.insert(params))

    async def get(self, key: str, now: float) -> Snapshot:
        # Batched with the lookups that arrive meanwhile (``reads.py``); expiry is checked
        # here, against each caller's own ``now``.
        row = await self._reads.get(key)
        if row is None:
            raise SnapshotNotFound()
        snapshot = self._checked(_snapshot, row)
        grace_until = row["grace_until"]
        if snapshot.meta.is_expired(now) or (grace_until is not None and now >= grace_until):
            raise SnapshotNotFound()
        return snapshot

    async def _fetch(self, keys: list[str]) -> dict[str, sqlite3.Row]:
        """The row of each of ``keys`` that names a snapshot, by its own key (``grace_until``
        NULL) or through a rotation alias (``grace_until`` its deadline; a snapshot's own key
        wins, though insert and rotate never let both exist at once)."""
        marks = ", ".join("?" * len(keys))
        sql = (
            f"SELECT s.key AS via, NULL AS grace_until, {_SNAPSHOT_COLUMNS} FROM snapshot s"
            f" WHERE s.key IN ({marks}) UNION ALL"
            f" SELECT a.key AS via, a.grace_until, {_SNAPSHOT_COLUMNS} FROM snapshot_alias a"
            f" JOIN snapshot s ON s.id = a.snapshot_id WHERE a.key IN ({marks})"
        )
        found: dict[str, sqlite3.Row] = {}
        for row in await self._all(sql, keys + keys):
            if row["via"] not in found or row["grace_until"] is None:
                found[row["via"]] = row
        return found

    async def get_by_delete_key(self, delete_key_hash: str, now: float) -> SnapshotMeta:
        row = await self._one(
            f"SELECT {_META_COLUMNS} FROM snapshot WHERE delete_key_hash = :hash AND {_UNEXPIRED}",
            {"hash": delete_key_hash, "now": now},
        )
        return self._checked(_meta, row)

    async def list_snapshots(
        self, scope: ListScope, query: ListQuery, now: float
    ) -> list[SnapshotMeta]:
        # instr() over casefold(): a plain substring test, so % and _ in the query are literal
        # and case folding matches the other backends' str.casefold beyond ASCII.
        sql = f"SELECT {_META_COLUMNS} FROM snapshot WHERE org_id = :org AND {_UNEXPIRED}"
        params: dict[str, Any] = {
            "org": scope.org_id,
            "now": now,
            "limit": query.limit,
            "offset": query.offset,
        }
        if scope.user_id is not None:
            sql += " AND user_id = :user"
            params["user"] = scope.user_id
        if query.query:
            sql += " AND instr(casefold(name), :needle) > 0"
            params["needle"] = query.needle
        sql += " ORDER BY id LIMIT :limit OFFSET :offset"
        return self._valid(await self._all(sql, params), _meta)

    async def delete(self, key: str, now: float, *, expect_id: int) -> SnapshotMeta:
        # One statement: the row goes only if it is still the snapshot the caller read.
        row = _first(
            await self._deleting(
                "DELETE FROM snapshot WHERE key = :key AND id = :id"
                f" AND {_UNEXPIRED} RETURNING {_META_COLUMNS}",
                {"key": key, "id": expect_id, "now": now},
            )
        )
        return self._checked(_meta, row)

    async def delete_by_delete_key(self, delete_key_hash: str, now: float) -> SnapshotMeta:
        row = _first(
            await self._deleting(
                f"DELETE FROM snapshot WHERE delete_key_hash = :hash AND {_UNEXPIRED}"
                f" RETURNING {_META_COLUMNS}",
                {"hash": delete_key_hash, "now": now},
            )
        )
        return self._checked(_meta, row)

    async def update(
        self, key: str, now: float, *, expect_id: int, changes: SnapshotChanges
    ) -> SnapshotMeta:
        # One statement, so the compare and the change are one; the expiry indexes follow the
        # row, and org_usage subtracts expired rows at read time, so nothing else is touched.
        row = _first(
            await self._deleting(
                "UPDATE snapshot SET updated = :updated, name = coalesce(:name, name),"
                " password_hash = coalesce(:password_hash, password_hash),"
                " etag = coalesce(:etag, etag),"
                " expires = CASE WHEN :set_expires THEN :expires ELSE expires END"
                f" WHERE key = :key AND id = :id AND {_UNEXPIRED} RETURNING {_META_COLUMNS}",
                {
                    "key": key,
                    "id": expect_id,
                    "now": now,
                    "updated": changes.updated,
                    "name": changes.name,
                    "password_hash": changes.password_hash,
                    "etag": changes.etag,
                    "set_expires": changes.expires is not UNCHANGED,
                    "expires": None if changes.expires is UNCHANGED else changes.expires,
                },
            )
        )
        return self._checked(_meta, row)

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
        params = {
            "key": key,
            "new_key": new_key,
            "id": expect_id,
            "now": now,
            "updated": updated,
            "grace_until": grace_until,
            "etag": etag,
        }
        if self._closed:
            raise StorageUnavailable() from StoreClosed()
        try:
            # Like group_commit: aiosqlite's own queue to its thread, so the transaction's
            # statements run back to back with no other statement of this connection between.
            outcome = await self._db._execute(  # type: ignore[no-untyped-call]
                _rotate, self._db._conn, params
            )
        except (sqlite3.Error, ValueError) as exc:  # ValueError: connection closed
            self.deletions.bump()  # the outcome is unknown: caches must not trust what they hold
            raise StorageUnavailable() from exc
        if isinstance(outcome, SnapshotError):
            raise outcome
        self.deletions.bump()
        return self._checked(_meta, outcome)

    async def delete_expired(self, now: float, limit: int = 1000) -> list[SnapshotMeta]:
        # Aliases past their deadline first: they serve nothing, and would otherwise stay until
        # their snapshot goes. Nothing a cache holds changes, so no bump.
        await self._all(
            "DELETE FROM snapshot_alias WHERE key IN (SELECT key FROM snapshot_alias"
            " WHERE grace_until <= :now LIMIT :limit)",
            {"now": now, "limit": limit},
        )
        rows = await self._deleting(
            "DELETE FROM snapshot WHERE id IN (SELECT id FROM snapshot"
            " WHERE expires IS NOT NULL AND expires <= :now ORDER BY expires LIMIT :limit)"
            f" RETURNING {_META_COLUMNS}",
            {"now": now, "limit": limit},
        )
        return self._valid(rows, _meta)

    async def _deleting(self, sql: str, params: dict[str, Any]) -> list[sqlite3.Row]:
        """Run a DELETE (or an UPDATE) ... RETURNING (committed when it returns: autocommit)
        and, before answering, tell caches (``deletions``) if it removed or changed a row or
        its outcome is unknown.
        A deleter answers only after this, so a GET that starts after the answer, in any process
        on this host, finds the version moved."""
        try:
            rows = list(await self._all(sql, params))
        except StorageUnavailable:
            self.deletions.bump()
            raise
        if rows:
            self.deletions.bump()
        return rows

    async def org_usage(self, org_id: int, now: float) -> OrgUsage:
        # The triggers' running totals (see database.py), less the expired rows not yet
        # removed: an index range over just those.
        row = await self._one(
            "SELECT coalesce((SELECT snapshots FROM org_usage WHERE org_id = :org), 0)"
            " - (SELECT count(*) FROM snapshot WHERE org_id = :org AND expires <= :now)"
            " AS snapshots, coalesce((SELECT bytes FROM org_usage WHERE org_id = :org), 0)"
            " - (SELECT coalesce(sum(length(dashboard)), 0) FROM snapshot"
            " WHERE org_id = :org AND expires <= :now) AS bytes",
            {"org": org_id, "now": now},
        )
        return OrgUsage(int(row["snapshots"]), int(row["bytes"]))

    async def ping(self) -> None:
        await self._all("SELECT 1", {})

    async def export_page(self, after_id: int, limit: int, now: float) -> list[Snapshot]:
        # A range of the primary key: the cost of the page, whatever the table holds.
        rows = await self._all(
            f"SELECT {_META_COLUMNS}, dashboard FROM snapshot WHERE id > :after AND {_UNEXPIRED}"
            " ORDER BY id LIMIT :limit",
            {"after": after_id, "now": now, "limit": limit},
        )
        return self._valid(rows, _snapshot)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if isinstance(self.deletions, SharedDeletions):
            self.deletions.close()
        try:
            await self._db.close()
        except sqlite3.Error as exc:
            raise StorageUnavailable() from exc

    async def _all(self, sql: str, params: dict[str, Any] | list[str]) -> Iterable[sqlite3.Row]:
        """Run one statement to completion in a single hop to the database thread.

        (``execute`` then ``fetchall`` would be two hops, with other coroutines' statements
        free to run on this connection in between.) The store's one error boundary: a driver
        error, or any call after ``aclose``, raises ``StorageUnavailable``.
        """
        if self._closed:
            raise StorageUnavailable() from StoreClosed()
        try:
            return await self._db.execute_fetchall(sql, params)
        except sqlite3.Error as exc:
            raise StorageUnavailable() from exc

    async def _one(self, sql: str, params: dict[str, Any]) -> sqlite3.Row:
        return _first(list(await self._all(sql, params)))

    def _checked(self, parse: Callable[[sqlite3.Row], T], row: sqlite3.Row) -> T:
        """``parse(row)``; a row that is not a snapshot is logged and reported as absent."""
        try:
            return parse(row)
        except CorruptData as exc:
            self._log_corrupt(row, exc)
            raise SnapshotNotFound() from None

    def _valid(self, rows: Iterable[sqlite3.Row], parse: Callable[[sqlite3.Row], T]) -> list[T]:
        """``parse(row)`` of every row that is a snapshot; the others are logged and skipped."""
        parsed = []
        for row in rows:
            try:
                parsed.append(parse(row))
            except CorruptData as exc:
                self._log_corrupt(row, exc)
        return parsed

    def _log_corrupt(self, row: sqlite3.Row, exc: CorruptData) -> None:
        log.warning(
            "ignoring corrupt row id=%r in SQLite database %s: %s", row["id"], self._path, exc
        )
