"""Walking a filesystem store's shard tree (see ``layout``): every record file, or every entry
down to the leaves. Runs in a worker thread; never descends through a symbolic link."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator

from .layout import ALIAS_NAME_RE, RECORD_NAME_RE, SHARD_RES, TEMP_PREFIX, TEMP_SUFFIX, Layout


def iter_record_files(layout: Layout) -> Iterator[str]:
    """Paths of every record file under the root.

    Files and directories that vanish mid-walk are skipped, as are temp files (their names
    never match). Links are not descended into.
    """
    for first in _shard_dirs(_scandir(layout.records), 0):
        for second in _shard_dirs(_scandir(first), 1):
            for entry in _scandir(second):
                if RECORD_NAME_RE.fullmatch(entry.name):
                    yield entry.path


def iter_alias_files(layout: Layout) -> list[str]:
    """Paths of every rotation alias file (one flat directory: there are few)."""
    return sorted(e.path for e in _scandir(layout.aliases) if ALIAS_NAME_RE.fullmatch(e.name))


def walk_tree(layout: Layout) -> Iterator[os.DirEntry[str]]:
    """Every entry of the root, of ``aliases/``, of ``records/`` and ``deletekeys/`` and of
    their two shard levels (the record and index files included): one read of each of the
    4096 + 4096 shard directories. Descends only into real directories, never through a
    link."""
    yield from _scandir(layout.root)
    if os.path.isdir(layout.aliases) and not os.path.islink(layout.aliases):
        yield from _scandir(layout.aliases)
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
    pattern = SHARD_RES[level]
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
