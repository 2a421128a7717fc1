"""Blocking primitives of the filesystem backend: the directory layout, atomic file replacement,
the cross-process write lock and strict readers. Everything here runs in a worker thread.

Layout under the root (directories ``0o700``, files ``0o600``)::

    lock                              flock(2) target; held exclusively by every writer
    counter                           the last id handed out
    journal                           append-only listing journal (``filesystem_journal``)
    records/ab/c/<sha256(key)>.rec    one file per snapshot; ab/c = its first three hex digits
    deletekeys/ab/c/<hash>.dk         one per deleteKey hash, naming the record's key

File names are only ever hex digests, so neither a view key nor a deleteKey becomes a path, and
each path is checked to stay under the root anyway. Every path is then reached from the root one
component at a time (``openat`` with ``O_NOFOLLOW``): a symbolic link at any level fails with
``ELOOP`` instead of leading out of the root. 256 x 16 = 4096 leaf directories keep each
one under a few thousand entries up to ~10 million records, while a walk of the whole tree (the
temp-file sweep at open) stays at 4096 directory reads however many records there are.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Iterator

from snapshot_server.models import HASH_RE, Snapshot, SnapshotMeta

from .filesystem_format import (
    MAX_HEADER_BYTES,
    CorruptRecord,
    decode_header,
    decode_index,
    decode_record,
)

log = logging.getLogger(__name__)

TEMP_PREFIX = ".tmp-"
TEMP_SUFFIX = ".partial"
RECORD_SUFFIX = ".rec"
INDEX_SUFFIX = ".dk"
_SHARD_RES = (re.compile(r"[0-9a-f]{2}"), re.compile(r"[0-9a-f]"))
_RECORD_NAME_RE = re.compile(r"[0-9a-f]{64}\.rec")
_INDEX_NAME_RE = re.compile(r"[0-9a-f]{64}\.dk")


class Layout:
    """Paths of one store root. ``root`` must be absolute and normalised."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.lock = os.path.join(root, "lock")
        self.counter = os.path.join(root, "counter")
        self.journal = os.path.join(root, "journal")
        self.records = os.path.join(root, "records")
        self.deletekeys = os.path.join(root, "deletekeys")

    def record_path(self, key: str) -> str:
        """Where the record for view key ``key`` lives (named by the key's SHA-256)."""
        return self._sharded(self.records, hashlib.sha256(key.encode()).hexdigest(), RECORD_SUFFIX)

    def index_path(self, delete_key_hash: str) -> str:
        """Where the delete-key index file for ``delete_key_hash`` (64 hex digits) lives."""
        if not HASH_RE.fullmatch(delete_key_hash):
            raise ValueError("delete_key_hash must be 64 lowercase hex digits")
        return self._sharded(self.deletekeys, delete_key_hash, INDEX_SUFFIX)

    def _sharded(self, base: str, digest: str, suffix: str) -> str:
        path = os.path.join(base, digest[:2], digest[2:3], digest + suffix)
        self.check_under_root(path)
        return path

    def check_under_root(self, path: str) -> None:
        """Raise ``ValueError`` unless ``path`` is lexically inside the root."""
        normal = os.path.normpath(path)
        if normal == self.root or os.path.commonpath((self.root, normal)) != self.root:
            raise ValueError(f"path {path!r} escapes the store root")

    def check_inside(self, path: str) -> None:
        """Raise ``ValueError`` unless ``path`` is the root or lexically inside it."""
        if os.path.normpath(path) != self.root:
            self.check_under_root(path)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _refused_link(path: str) -> OSError:
    return OSError(
        errno.ELOOP, "is a symbolic link; links under the store root are never followed", path
    )


def _open_dir(layout: Layout, directory: str, *, create: bool = False) -> int:
    """A descriptor of ``directory`` (the root or a directory under it), reached from the root
    one component at a time with ``O_NOFOLLOW``, so a symbolic link anywhere on the way is
    refused (``ELOOP``) instead of followed out of the root. With ``create``, missing
    directories are made ``0o700`` and their parent fsynced, so the entry survives a power cut.
    The caller closes the descriptor."""
    layout.check_inside(directory)
    fd = _open_component(layout.root, None)
    try:
        current = layout.root
        relative = os.path.relpath(directory, layout.root)
        for part in [] if relative == "." else relative.split(os.sep):
            current = os.path.join(current, part)
            try:
                child = _open_component(current, fd, part)
            except FileNotFoundError:
                if not create:
                    raise
                try:
                    os.mkdir(part, 0o700, dir_fd=fd)
                except FileExistsError:
                    pass  # created by another process between the open and here
                else:
                    os.fsync(fd)
                child = _open_component(current, fd, part)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_component(path: str, dir_fd: int | None, name: str | None = None) -> int:
    try:
        return os.open(path if name is None else name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refused_link(path) from exc
        raise


@contextlib.contextmanager
def _parent(layout: Layout, path: str, *, create: bool = False) -> Iterator[tuple[int, str]]:
    """``(descriptor of path's directory, path's last component)`` for the block."""
    fd = _open_dir(layout, os.path.dirname(path), create=create)
    try:
        yield fd, os.path.basename(path)
    finally:
        os.close(fd)


def open_file(layout: Layout, path: str, flags: int, mode: int = 0o600) -> int:
    """``os.open`` of a file under the root, without following a link at any level."""
    with _parent(layout, path) as (dir_fd, name):
        try:
            return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _refused_link(path) from exc
            raise


def ensure_dir(layout: Layout, path: str) -> None:
    """Create ``path`` and any missing parents under the root with mode ``0o700``."""
    os.close(_open_dir(layout, path, create=True))


def check_dir(layout: Layout, path: str) -> None:
    """Raise ``OSError`` unless ``path`` is a directory reached from the root without links."""
    os.close(_open_dir(layout, path))


def exists(layout: Layout, path: str) -> bool:
    """Whether anything (a link included, never followed) is at ``path`` under the root."""
    try:
        with _parent(layout, path) as (dir_fd, name):
            os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def write_atomic(layout: Layout, path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` so a reader sees the old file or the new, never a part.

    temp file in the same directory -> write -> fsync -> ``os.replace`` -> fsync directory.
    Missing directories are created. On any exception the temp file is removed and the
    exception propagates; if it came after the rename (the directory fsync), ``path`` already
    holds ``data``. (A rename replaces a link at ``path`` itself; it never writes through one.)
    """
    with _parent(layout, path, create=True) as (dir_fd, name):
        tmp = f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(tmp, flags, 0o600, dir_fd=dir_fd)
        try:
            with open(fd, "wb", closefd=True) as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise
        os.fsync(dir_fd)


def remove(layout: Layout, path: str) -> bool:
    """Unlink ``path`` and fsync its directory; ``False`` if it did not exist."""
    try:
        with _parent(layout, path) as (dir_fd, name):
            os.unlink(name, dir_fd=dir_fd)
            os.fsync(dir_fd)
    except FileNotFoundError:
        return False
    return True


@contextlib.contextmanager
def exclusive_lock(layout: Layout) -> Iterator[None]:
    """Hold the root's write lock (``flock(LOCK_EX)``) for the block.

    Each call opens its own file description, so threads of one process exclude each other as
    well as other processes; closing the descriptor releases the lock, even if the process dies.
    """
    fd = open_file(layout, layout.lock, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_bytes(layout: Layout, path: str) -> bytes | None:
    """The whole file, or ``None`` if it (or its directory) does not exist."""
    try:
        fd = open_file(layout, path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with open(fd, "rb", closefd=True) as f:
        return f.read()


def read_snapshot(layout: Layout, path: str) -> Snapshot | None:
    """The fully verified record at ``path``; ``None`` if missing or corrupt (logged)."""
    data = read_bytes(layout, path)
    if data is None:
        return None
    try:
        return decode_record(data)
    except CorruptRecord as exc:
        log.warning("ignoring corrupt snapshot record %s: %s", path, exc)
        return None


def read_meta(layout: Layout, path: str, *, exact_size: bool = True) -> SnapshotMeta | None:
    """The header of the record at ``path``, checked against the file size (unless not
    ``exact_size``) without reading the dashboard; ``None`` if missing or corrupt (logged)."""
    try:
        fd = open_file(layout, path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with open(fd, "rb", closefd=True) as f:
        line = f.readline(MAX_HEADER_BYTES)
        size = os.fstat(f.fileno()).st_size
    try:
        meta, length, _ = decode_header(line)
        if exact_size and size != len(line) + length:
            raise CorruptRecord(f"file is {size} bytes, header says {len(line) + length}")
    except CorruptRecord as exc:
        log.warning("ignoring corrupt snapshot record %s: %s", path, exc)
        return None
    return meta


def read_index(layout: Layout, path: str) -> str | None:
    """The view key a delete-key index file names; ``None`` if missing or corrupt (logged)."""
    data = read_bytes(layout, path)
    if data is None:
        return None
    try:
        return decode_index(data)
    except CorruptRecord as exc:
        log.warning("ignoring corrupt delete-key index %s: %s", path, exc)
        return None


def stat_file(layout: Layout, path: str) -> os.stat_result:
    """``lstat`` of ``path`` under the root, reached without following links."""
    with _parent(layout, path) as (dir_fd, name):
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)


def iter_files(base: str, name_re: re.Pattern[str]) -> Iterator[str]:
    """Paths of the files under the two shard levels of ``base`` whose names match ``name_re``.

    Files and directories that vanish mid-walk are skipped, as are temp files (their names
    never match). Links are not descended into.
    """
    for first in _shard_dirs(_scandir(base), 0):
        for second in _shard_dirs(_scandir(first), 1):
            for entry in _scandir(second):
                if name_re.fullmatch(entry.name):
                    yield entry.path


def iter_record_files(layout: Layout) -> Iterator[str]:
    """Every record file under the root."""
    return iter_files(layout.records, _RECORD_NAME_RE)


def iter_index_files(layout: Layout) -> Iterator[str]:
    """Every delete-key index file under the root."""
    return iter_files(layout.deletekeys, _INDEX_NAME_RE)


def walk_tree(layout: Layout) -> Iterator[os.DirEntry[str]]:
    """Every entry of the root, of ``records/`` and ``deletekeys/`` and of their two shard
    levels (the record and index files included): one read of each of the 4096 + 4096 shard
    directories. Descends only into real directories, never through a link."""
    yield from _scandir(layout.root)
    for base in (layout.records, layout.deletekeys):
        entries = _scandir(base)
        yield from entries
        for first in _shard_dirs(entries, 0):
            firsts = _scandir(first)
            yield from firsts
            for second in _shard_dirs(firsts, 1):
                yield from _scandir(second)


def is_temp_file(entry: os.DirEntry[str]) -> bool:
    """Whether ``entry`` is a temp file a writer could have left behind."""
    return entry.name.startswith(TEMP_PREFIX) and entry.name.endswith(TEMP_SUFFIX)


def _shard_dirs(entries: list[os.DirEntry[str]], level: int) -> list[str]:
    pattern = _SHARD_RES[level]
    return sorted(
        e.path for e in entries if pattern.fullmatch(e.name) and e.is_dir(follow_symlinks=False)
    )


def _scandir(path: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return []
        raise
