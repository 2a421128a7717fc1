"""Reading records and delete-key index files, strictly and without a lock.

The record is the source of truth: an index file counts only if the record it names is intact
and names the same deleteKey hash, and a journal entry only if its record file holds that id.
Whatever does not read back (torn, truncated, edited, foreign) is logged and treated as absent.
Readers need no lock because every file is only ever replaced by ``os.replace`` or removed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TypeVar

from snapshot_server.models import CorruptData, Snapshot, SnapshotMeta

from .disk import open_file, read_bytes
from .format import (
    MAX_HEADER_BYTES,
    AliasFile,
    decode_alias,
    decode_header,
    decode_index,
    decode_record,
)
from .layout import Layout
from .walk import iter_record_files

log = logging.getLogger(__name__)

T = TypeVar("T")


def read_snapshot(layout: Layout, path: str) -> Snapshot | None:
    """The fully verified record at ``path``; ``None`` if missing or corrupt (logged)."""
    return _decoded(layout, path, decode_record, "snapshot record")


def read_index(layout: Layout, path: str) -> str | None:
    """The view key a delete-key index file names; ``None`` if missing or corrupt (logged)."""
    return _decoded(layout, path, decode_index, "delete-key index")


def read_alias(layout: Layout, path: str) -> AliasFile | None:
    """The rotation alias file at ``path``; ``None`` if missing or corrupt (logged)."""
    return _decoded(layout, path, decode_alias, "rotation alias")


def read_meta(layout: Layout, path: str, *, exact_size: bool = True) -> SnapshotMeta | None:
    """The header of the record at ``path``, checked against the file size (unless not
    ``exact_size``) without reading the dashboard; ``None`` if missing or corrupt (logged)."""
    header = read_header(layout, path, exact_size=exact_size)
    return None if header is None else header[0]


def read_header(
    layout: Layout, path: str, *, exact_size: bool = True
) -> tuple[SnapshotMeta, int] | None:
    """``read_meta``, with the dashboard's length from the header."""
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
            raise CorruptData(f"file is {size} bytes, header says {len(line) + length}")
    except CorruptData as exc:
        log.warning("ignoring corrupt snapshot record %s: %s", path, exc)
        return None
    return meta, length


def _decoded(layout: Layout, path: str, decode: Callable[[bytes], T], what: str) -> T | None:
    data = read_bytes(layout, path)
    if data is None:
        return None
    try:
        return decode(data)
    except CorruptData as exc:
        log.warning("ignoring corrupt %s %s: %s", what, path, exc)
        return None


class Records:
    """Lookups by view key and deleteKey hash under one root."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def snapshot(self, key: str) -> Snapshot | None:
        """The fully verified record of ``key``: what every lookup by key or deleteKey uses, so
        a record with a damaged dashboard is absent everywhere but in listings."""
        snapshot = read_snapshot(self.layout, self.layout.record_path(key))
        return snapshot if snapshot is not None and snapshot.meta.key == key else None

    def meta(self, key: str) -> SnapshotMeta | None:
        """The metadata of ``snapshot(key)``."""
        snapshot = self.snapshot(key)
        return None if snapshot is None else snapshot.meta

    def header(self, key: str) -> SnapshotMeta | None:
        """The record header of ``key``, checked against the file size but not the dashboard."""
        meta = read_meta(self.layout, self.layout.record_path(key))
        return meta if meta is not None and meta.key == key else None

    def is_committed(self, entry: SnapshotMeta) -> bool:
        """Whether a journal entry's record file exists, is intact and is that entry."""
        meta = self.header(entry.key)
        return meta is not None and meta.id == entry.id

    def dashboard_length(self, entry: SnapshotMeta) -> int | None:
        """The dashboard length of a journal entry's record; ``None`` unless ``is_committed``."""
        header = read_header(self.layout, self.layout.record_path(entry.key))
        return header[1] if header is not None and header[0].id == entry.id else None

    def holder(self, delete_key_hash: str) -> SnapshotMeta | None:
        """The record that owns ``delete_key_hash``: the index names a key, and that key's
        record must name the same hash (so a dangling or stale index never matches)."""
        key = read_index(self.layout, self.layout.index_path(delete_key_hash))
        meta = None if key is None else self.meta(key)
        return meta if meta is not None and meta.delete_key_hash == delete_key_hash else None

    def scan(self) -> list[tuple[SnapshotMeta, int]]:
        """The headers of every intact record file, with their dashboards' lengths:
        O(number of records) reads."""
        found = []
        for path in iter_record_files(self.layout):
            header = read_header(self.layout, path)
            if header is not None and self.layout.record_path(header[0].key) == path:
                found.append(header)
        return found
