"""Blocking primitives of the filesystem backend: the directory layout, atomic file replacement,
the cross-process write lock and strict readers. Everything here runs in a worker thread.

Layout under the root (directories ``0o700``, files ``0o600``)::

    lock                              flock(2) target; held exclusively by every writer
    counter                           the last id handed out
    journal                           append-only listing journal (``filesystem_journal``)
    records/ab/c/<sha256(key)>.rec    one file per snapshot; ab/c = its first three hex digits
    deletekeys/ab/c/<hash>.dk         one per deleteKey hash, naming the record's key

File names are only ever hex digests, so neither a view key nor a deleteKey becomes a path, and
each path is checked to stay under the root anyway. 256 x 16 = 4096 leaf directories keep each
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
import tempfile
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


def ensure_dir(path: str, stop: str) -> None:
    """Create ``path`` and any missing parents below ``stop`` with mode ``0o700``; fsync the
    parent of each directory created so the new entry survives a power cut."""
    parent = os.path.dirname(path)
    if path == stop or os.path.isdir(path):
        return
    ensure_dir(parent, stop)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return  # created by another process between the check and here
    fsync_dir(parent)


def fsync_dir(path: str) -> None:
    """Make the directory entries of ``path`` durable (after a create, rename or unlink)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` so a reader sees the old file or the new, never a part.

    temp file in the same directory -> write -> fsync -> ``os.replace`` -> fsync directory. On any
    exception the temp file is removed and the exception propagates; if it came after the
    rename (the directory fsync), ``path`` already holds ``data``.
    """
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=directory)
    try:
        with open(fd, "wb", closefd=True) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def remove(path: str) -> bool:
    """Unlink ``path`` and fsync its directory; ``False`` if it did not exist."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    fsync_dir(os.path.dirname(path))
    return True


@contextlib.contextmanager
def exclusive_lock(layout: Layout) -> Iterator[None]:
    """Hold the root's write lock (``flock(LOCK_EX)``) for the block.

    Each call opens its own file description, so threads of one process exclude each other as
    well as other processes; closing the descriptor releases the lock, even if the process dies.
    """
    fd = os.open(layout.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_bytes(path: str) -> bytes | None:
    """The whole file, or ``None`` if it does not exist."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def read_snapshot(path: str) -> Snapshot | None:
    """The fully verified record at ``path``; ``None`` if missing or corrupt (logged)."""
    data = read_bytes(path)
    if data is None:
        return None
    try:
        return decode_record(data)
    except CorruptRecord as exc:
        log.warning("ignoring corrupt snapshot record %s: %s", path, exc)
        return None


def read_meta(path: str, *, exact_size: bool = True) -> SnapshotMeta | None:
    """The header of the record at ``path``, checked against the file size (unless not
    ``exact_size``) without reading the dashboard; ``None`` if missing or corrupt (logged)."""
    try:
        with open(path, "rb") as f:
            line = f.readline(MAX_HEADER_BYTES)
            size = os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        return None
    try:
        meta, length, _ = decode_header(line)
        if exact_size and size != len(line) + length:
            raise CorruptRecord(f"file is {size} bytes, header says {len(line) + length}")
    except CorruptRecord as exc:
        log.warning("ignoring corrupt snapshot record %s: %s", path, exc)
        return None
    return meta


def read_index(path: str) -> str | None:
    """The view key a delete-key index file names; ``None`` if missing or corrupt (logged)."""
    data = read_bytes(path)
    if data is None:
        return None
    try:
        return decode_index(data)
    except CorruptRecord as exc:
        log.warning("ignoring corrupt delete-key index %s: %s", path, exc)
        return None


def iter_files(base: str, name_re: re.Pattern[str]) -> Iterator[str]:
    """Paths of the files under the two shard levels of ``base`` whose names match ``name_re``.

    Files and directories that vanish mid-walk are skipped, as are temp files (their names
    never match).
    """
    for first in _subdirs(base, 0):
        for second in _subdirs(first, 1):
            for entry in _scandir(second):
                if name_re.fullmatch(entry.name):
                    yield entry.path


def iter_record_files(layout: Layout) -> Iterator[str]:
    """Every record file under the root."""
    return iter_files(layout.records, _RECORD_NAME_RE)


def iter_index_files(layout: Layout) -> Iterator[str]:
    """Every delete-key index file under the root."""
    return iter_files(layout.deletekeys, _INDEX_NAME_RE)


def iter_temp_files(layout: Layout) -> Iterator[str]:
    """Every temp file a writer could have left behind (at any level of the tree)."""
    dirs = [layout.root]
    for base in (layout.records, layout.deletekeys):
        for first in _subdirs(base, 0):
            dirs.append(first)
            dirs.extend(_subdirs(first, 1))
    for directory in dirs:
        for entry in _scandir(directory):
            if entry.name.startswith(TEMP_PREFIX) and entry.name.endswith(TEMP_SUFFIX):
                yield entry.path


def _subdirs(path: str, level: int) -> list[str]:
    pattern = _SHARD_RES[level]
    return sorted(e.path for e in _scandir(path) if pattern.fullmatch(e.name) and e.is_dir())


def _scandir(path: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return []
        raise
