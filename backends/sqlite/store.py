"""``SQLiteStore``: the SQLite backend's ``SnapshotStore`` (the embedded default), on
``aiosqlite``; ``database`` opens the file and keeps its schema.

Each method is one SQL statement (an insert that meets a taken key reads which one, then may
retry), run to completion in one hop to the database thread.

Errors. ``_all`` is the one boundary: every ``sqlite3.Error`` becomes ``StorageUnavailable``
there, as does any call after ``aclose``. A row that does not read back as a snapshot (edited by
hand, foreign) is logged and treated as absent.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

import aiosqlite

from snapshot_server.config import StorageConfig
from snapshot_server.config_reader import PathSettings
from snapshot_server.errors import SnapshotExists, SnapshotNotFound, StorageUnavailable, StoreClosed
from snapshot_server.models import (
    META_FIELDS,
    CorruptData,
    ListQuery,
    ListScope,
    NewSnapshot,
    Snapshot,
    SnapshotMeta,
    meta_from_fields,
)
from snapshot_server.storage import OrgUsage, StoreSettings

from .database import connect

log = logging.getLogger(__name__)

T = TypeVar("T")

_META_COLUMNS = ", ".join(META_FIELDS)
_UNEXPIRED = "(expires IS NULL OR expires > :now)"
_INSERT_ATTEMPTS = 8


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


class SQLiteStore:
    Settings: ClassVar[type[StoreSettings]] = SQLiteSettings
    shared_by_processes: ClassVar[bool] = True

    def __init__(self, db: aiosqlite.Connection, path: str) -> None:
        self._db = db
        self._path = path
        self._closed = False

    @classmethod
    async def open(cls, config: StorageConfig) -> Self:
        path = SQLiteSettings.read(config.section()).path
        return cls(await connect(path), path)

    async def insert(self, record: NewSnapshot) -> SnapshotMeta:
        # Every field by name (the INSERT uses what it needs; its id is SQLite's to choose).
        params = {**record.meta.fields(), "dashboard": record.dashboard}
        # ON CONFLICT DO NOTHING: a taken key or deleteKey inserts nothing and returns no row
        # (no IntegrityError whose message would have to be parsed for the index name). Which
        # one is taken is then read; if the holder was deleted in between, try again.
        for _attempt in range(_INSERT_ATTEMPTS):
            rows = list(
                await self._all(
                    "INSERT INTO snapshot (key, delete_key_hash, name, org_id, user_id, external,"
                    " external_url, external_delete_url, created, updated, expires, etag,"
                    " dashboard) VALUES (:key, :delete_key_hash, :name, :org_id, :user_id,"
                    " :external, :external_url, :external_delete_url, :created, :updated,"
                    " :expires, :etag, :dashboard) ON CONFLICT DO NOTHING RETURNING id",
                    params,
                )
            )
            if rows:
                return record.stored_as(int(rows[0]["id"]))
            taken = list(
                await self._all(
                    "SELECT max(key = :key) AS key_taken FROM snapshot"
                    " WHERE key = :key OR delete_key_hash = :delete_key_hash",
                    params,
                )
            )
            if taken and taken[0]["key_taken"] is not None:
                raise SnapshotExists("key" if taken[0]["key_taken"] else "deleteKey")
        raise StorageUnavailable("insert kept conflicting with concurrent deletes")

    async def get(self, key: str, now: float) -> Snapshot:
        row = await self._one(
            f"SELECT {_META_COLUMNS}, dashboard FROM snapshot WHERE key = :key AND {_UNEXPIRED}",
            {"key": key, "now": now},
        )
        return self._checked(_snapshot, row)

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
        return self._valid(await self._all(sql, params))

    async def delete(self, key: str, now: float, *, expect_id: int) -> SnapshotMeta:
        # One statement: the row goes only if it is still the snapshot the caller read.
        row = await self._one(
            "DELETE FROM snapshot WHERE key = :key AND id = :id"
            f" AND {_UNEXPIRED} RETURNING {_META_COLUMNS}",
            {"key": key, "id": expect_id, "now": now},
        )
        return self._checked(_meta, row)

    async def delete_by_delete_key(self, delete_key_hash: str, now: float) -> SnapshotMeta:
        row = await self._one(
            f"DELETE FROM snapshot WHERE delete_key_hash = :hash AND {_UNEXPIRED}"
            f" RETURNING {_META_COLUMNS}",
            {"hash": delete_key_hash, "now": now},
        )
        return self._checked(_meta, row)

    async def delete_expired(self, now: float, limit: int = 1000) -> list[SnapshotMeta]:
        rows = await self._all(
            "DELETE FROM snapshot WHERE id IN (SELECT id FROM snapshot"
            " WHERE expires IS NOT NULL AND expires <= :now ORDER BY expires LIMIT :limit)"
            f" RETURNING {_META_COLUMNS}",
            {"now": now, "limit": limit},
        )
        return self._valid(rows)

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

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._db.close()
        except sqlite3.Error as exc:
            raise StorageUnavailable() from exc

    async def _all(self, sql: str, params: dict[str, Any]) -> Iterable[sqlite3.Row]:
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
        rows = list(await self._all(sql, params))
        if not rows:
            raise SnapshotNotFound()
        return rows[0]

    def _checked(self, parse: Callable[[sqlite3.Row], T], row: sqlite3.Row) -> T:
        """``parse(row)``; a row that is not a snapshot is logged and reported as absent."""
        try:
            return parse(row)
        except CorruptData as exc:
            self._log_corrupt(row, exc)
            raise SnapshotNotFound() from None

    def _valid(self, rows: Iterable[sqlite3.Row]) -> list[SnapshotMeta]:
        """The metadata of every row that is a snapshot; the others are logged and skipped."""
        metas = []
        for row in rows:
            try:
                metas.append(_meta(row))
            except CorruptData as exc:
                self._log_corrupt(row, exc)
        return metas

    def _log_corrupt(self, row: sqlite3.Row, exc: CorruptData) -> None:
        log.warning(
            "ignoring corrupt row id=%r in SQLite database %s: %s", row["id"], self._path, exc
        )
