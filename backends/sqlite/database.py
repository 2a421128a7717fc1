"""The SQLite database file: created private, connected, its schema brought up to date.

One connection per process in WAL mode with ``synchronous = FULL``: a create is acknowledged only
after its transaction is on disk, so neither a killed process nor a power cut loses it (NORMAL
would risk the last transactions on power loss). Several worker processes may share the file;
SQLite's own locking serialises writers and ``busy_timeout`` makes them wait instead of failing.

The schema is versioned with ``PRAGMA user_version``: ``_MIGRATIONS[i]`` takes version ``i`` to
``i + 1``, applied in order at open.

Privacy. The database holds every view key and dashboard, so directories this backend creates
are ``0o700`` and the database file is created ``0o600`` before SQLite opens it (SQLite would
create it ``0o644`` whatever the umask). SQLite gives its ``-wal`` and ``-shm`` files the mode of
the database file; ones left with a wider mode by an older version are narrowed at open.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import stat

import aiosqlite

from snapshot_server.errors import StorageUnavailable

log = logging.getLogger(__name__)

_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE snapshot (
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids are never reused
        key TEXT NOT NULL,
        delete_key_hash TEXT NOT NULL,
        name TEXT NOT NULL,
        org_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        external INTEGER NOT NULL,
        external_url TEXT NOT NULL,
        external_delete_url TEXT NOT NULL,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        expires REAL,                          -- NULL: never expires
        etag TEXT NOT NULL,
        dashboard BLOB NOT NULL
    );
    CREATE UNIQUE INDEX snapshot_key ON snapshot(key);
    CREATE UNIQUE INDEX snapshot_delete_key_hash ON snapshot(delete_key_hash);
    CREATE INDEX snapshot_org_user ON snapshot(org_id, user_id, id);
    CREATE INDEX snapshot_expires ON snapshot(expires) WHERE expires IS NOT NULL;
    """,
    # Running totals per org for the per-org caps (``org_usage``), kept by triggers so that
    # every insert and delete stays one statement. The delete trigger reads the size through
    # length() of the row still there (BEFORE DELETE): SQLite answers that from the record
    # header, where naming OLD.dashboard would load the whole blob. Expired rows not yet
    # removed are subtracted at read time through snapshot_org_expires.
    """
    CREATE TABLE org_usage (
        org_id INTEGER PRIMARY KEY,
        snapshots INTEGER NOT NULL,
        bytes INTEGER NOT NULL
    );
    INSERT INTO org_usage (org_id, snapshots, bytes)
        SELECT org_id, count(*), sum(length(dashboard)) FROM snapshot GROUP BY org_id;
    CREATE TRIGGER snapshot_usage_insert AFTER INSERT ON snapshot BEGIN
        INSERT INTO org_usage (org_id, snapshots, bytes)
            VALUES (NEW.org_id, 1, length(NEW.dashboard))
            ON CONFLICT (org_id) DO UPDATE
            SET snapshots = snapshots + 1, bytes = bytes + excluded.bytes;
    END;
    CREATE TRIGGER snapshot_usage_delete BEFORE DELETE ON snapshot BEGIN
        UPDATE org_usage SET snapshots = snapshots - 1,
            bytes = bytes - (SELECT length(dashboard) FROM snapshot WHERE id = OLD.id)
            WHERE org_id = OLD.org_id;
    END;
    CREATE INDEX snapshot_org_expires ON snapshot(org_id, expires) WHERE expires IS NOT NULL;
    """,
    # Listing indexes in the listing's order (id), one per scope: an org's page (an Admin's)
    # and a user's page are each a walk of one index range that stops at the page's end, not
    # a sort of the whole org (the old (org_id, user_id, id) index gave the org's rows in user
    # order). They cover the filters too (expiry, name), so rows that do not match are
    # skipped in the index and only the page's rows are read from the table.
    """
    DROP INDEX snapshot_org_user;
    CREATE INDEX snapshot_org_list ON snapshot(org_id, id, expires, name);
    CREATE INDEX snapshot_user_list ON snapshot(org_id, user_id, id, expires, name);
    """,
    # Sharing controls: a password hash per snapshot ('' = none; rows written before read as
    # none), and the old view keys a rotate keeps alive until their grace deadline. An alias
    # row goes with its snapshot however the snapshot is deleted (the trigger), and is swept
    # once its deadline passes (delete_expired).
    """
    ALTER TABLE snapshot ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';
    CREATE TABLE snapshot_alias (
        key TEXT PRIMARY KEY,
        snapshot_id INTEGER NOT NULL,
        grace_until REAL NOT NULL
    );
    CREATE INDEX snapshot_alias_snapshot ON snapshot_alias(snapshot_id);
    CREATE INDEX snapshot_alias_grace ON snapshot_alias(grace_until);
    CREATE TRIGGER snapshot_alias_delete AFTER DELETE ON snapshot BEGIN
        DELETE FROM snapshot_alias WHERE snapshot_id = OLD.id;
    END;
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)


async def connect(path: str) -> aiosqlite.Connection:
    """A ready connection to the database at ``path`` (created if missing), its schema at
    ``SCHEMA_VERSION``, rows as ``sqlite3.Row`` and a ``casefold(text)`` SQL function.

    Raises ``StorageUnavailable`` naming the path and the reason.
    """
    try:
        # Opened here, in a thread of ours, not by aiosqlite.connect: when that fails to open
        # the file it leaves its worker thread to report to an event loop that may be closed
        # by then ("RuntimeError: Event loop is closed" on stderr). Handed over, it cannot fail.
        raw = await asyncio.to_thread(_open_private, path)
    except OSError as exc:
        raise StorageUnavailable(
            f"cannot open SQLite database {path!r}: {exc.strerror or exc}"
        ) from exc
    except sqlite3.Error as exc:
        raise StorageUnavailable(f"cannot open SQLite database {path!r}: {exc}") from exc
    db = await aiosqlite.Connection(lambda: raw, 64)
    try:
        db.row_factory = sqlite3.Row
        await db.execute("PRAGMA busy_timeout = 10000")
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = FULL")
        await db.create_function("casefold", 1, _casefold, deterministic=True)
        await _migrate(db)
    except sqlite3.Error as exc:
        await db.close()
        raise StorageUnavailable(f"cannot prepare SQLite database {path!r}: {exc}") from exc
    return db


def _open_private(path: str) -> sqlite3.Connection:
    """Create missing parent directories ``0o700`` and the database file ``0o600`` (narrowing
    an existing database, ``-wal`` and ``-shm`` of ours to ``0o600``), then connect. Blocking;
    raises ``OSError`` naming what failed, or ``sqlite3.Error``."""
    if path != ":memory:":
        _make_private_dirs(os.path.dirname(os.path.abspath(path)))
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            _make_private(fd, path)
        finally:
            os.close(fd)
        for companion in (path + "-wal", path + "-shm"):
            try:
                fd = os.open(companion, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                _make_private(fd, companion)
            finally:
                os.close(fd)
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False)


def _make_private_dirs(directory: str) -> None:
    """Create ``directory`` and its missing parents with mode ``0o700`` (exactly, whatever the
    umask); directories that exist are left as they are."""
    if os.path.isdir(directory):
        return
    _make_private_dirs(os.path.dirname(directory))
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        return  # another worker created it first
    os.chmod(directory, 0o700)


def _make_private(fd: int, path: str) -> None:
    """Narrow the open file to ``0o600`` if others may read it and it is ours to change."""
    st = os.fstat(fd)
    if stat.S_IMODE(st.st_mode) & 0o077 and st.st_uid == os.geteuid():
        log.warning(
            "narrowing %s from mode %o to 600: it holds every snapshot",
            path,
            stat.S_IMODE(st.st_mode),
        )
        os.fchmod(fd, 0o600)


def _casefold(value: str | None) -> str | None:
    return None if value is None else value.casefold()


def _statements(script: str) -> list[str]:
    """The statements of ``script`` one by one (a trigger's body holds semicolons of its own,
    so a plain split would cut it). ``executescript`` is no alternative: it commits first."""
    statements, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    return statements


async def _migrate(db: aiosqlite.Connection) -> None:
    """Bring the schema to ``SCHEMA_VERSION``; safe when several workers open the file at once."""
    while True:
        # BEGIN IMMEDIATE takes the write lock first, so a worker that lost the race re-reads
        # the version another worker just wrote instead of re-running its migration.
        await db.execute("BEGIN IMMEDIATE")
        try:
            async with db.execute("PRAGMA user_version") as cursor:
                row = await cursor.fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"database schema version {version} is newer than this server's "
                    f"{SCHEMA_VERSION}"
                )
            if version == SCHEMA_VERSION:
                await db.execute("COMMIT")
                return
            for statement in _statements(_MIGRATIONS[version]):
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {version + 1}")
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
