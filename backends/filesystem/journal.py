"""The listing journal: which records exist, without opening them.

``<root>/journal`` is append-only (lines in ``format``): a writer holding the root's
lock appends ``+meta`` *before* committing a record and ``-id`` after removing one. Each process
keeps the replayed state in memory and, on every read, replays only the bytes appended since
(by any process), so a listing costs an ``fstat`` and a short read, not a walk of the records.

The journal is an index, never the truth: an entry whose record never got committed (a crash
in between) is a "ghost", so callers check a listed entry against its record file before
returning it. When removed entries outnumber live ones (and at least ``COMPACT_MIN_DEAD``), a
writer rewrites the journal atomically with the live entries only; readers notice the new inode
and replay from the start. Memory: one ``SnapshotMeta`` (~0.7 KB) per live snapshot per process.

Each ``+`` line carries the record's dashboard length, and the replay keeps running totals per
org (``usage``). Lines of older versions lack it: ``add_lengths`` rewrites the journal with it
at open, reading those records' headers once.
"""

from __future__ import annotations

import bisect
import logging
import os
import threading
from collections.abc import Callable

from snapshot_server.models import CorruptData, ListScope, SnapshotMeta
from snapshot_server.storage import OrgUsage

from .disk import open_file, stat_file, write_atomic
from .format import JournalEntry, decode_journal_line, encode_journal_add
from .layout import Layout
from .scopes import ScopeIndex
from .usage import OrgTally

log = logging.getLogger(__name__)

COMPACT_MIN_DEAD = 4096


class Journal:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.path = layout.journal
        self._lock = threading.Lock()  # the replay state is shared by the pool's threads
        self._ident: tuple[int, int] | None = None  # (st_dev, st_ino) of the replayed file
        self._offset = 0  # bytes replayed; always just after a newline
        self._lines = 0
        self._live: dict[int, JournalEntry] = {}
        self._tally = OrgTally()
        self._scopes = ScopeIndex()
        self._committed = set[int]()  # live entries whose records were found committed
        # The live ids in ascending order, and the replay position they were sorted at
        # (``after``): any change of the live entries moves the file identity or the offset.
        self._sorted_ids: list[int] = []
        self._sorted_at: tuple[tuple[int, int] | None, int] | None = None

    def entries(self) -> list[SnapshotMeta]:
        """Every live entry (ghosts included), after replaying what was appended since."""
        with self._lock:
            self._refresh()
            return [entry.meta for entry in self._live.values()]

    def entry(self, snapshot_id: int) -> SnapshotMeta | None:
        """The live entry of ``snapshot_id`` (a ghost, maybe), after replaying what was
        appended since; ``None`` if there is none."""
        with self._lock:
            self._refresh()
            entry = self._live.get(snapshot_id)
            return None if entry is None else entry.meta

    def matching(
        self, scope: ListScope, now: float, needle: str, count: int
    ) -> list[tuple[SnapshotMeta, bool]]:
        """The first ``count`` live entries of ``scope`` (ghosts included) in id order that are
        unexpired at ``now`` and whose casefolded name contains ``needle``, each with whether
        its record is known to be committed (``committed``), after replaying what was appended
        since. Walks the scope's entries only up to the last one returned."""
        found: list[tuple[SnapshotMeta, bool]] = []
        with self._lock:
            self._refresh()
            for meta in self._scopes.entries(scope):
                if len(found) == count:
                    break
                if not meta.is_expired(now) and needle in meta.name.casefold():
                    found.append((meta, meta.id in self._committed))
        return found

    def committed(self, ids: list[int]) -> None:
        """Note that the records of these live entries were found committed. An entry stays so
        until its removal is journaled: ids are never reused, and only an insert, whose
        record is committed after its journal line, can make a record hold an id. (Whether a
        record is not committed yet is never noted: an insert may be just about to.)"""
        with self._lock:
            self._committed.update(i for i in ids if i in self._live)

    def expired(self, now: float, count: int) -> list[SnapshotMeta]:
        """The first ``count`` live entries (ghosts included) with ``expires <= now``, earliest
        expiry first, after replaying what was appended since; never a scan of every entry."""
        with self._lock:
            self._refresh()
            return [self._live[i].meta for i in self._tally.expired(now, count)]

    def usage(self, org_id: int, now: float) -> OrgUsage:
        """The org's live entries unexpired at ``now`` (ghosts included) and their dashboards'
        bytes, after replaying what was appended since."""
        with self._lock:
            self._refresh()
            return self._tally.usage(org_id, now)

    def lacks_lengths(self) -> bool:
        """Whether a live entry has no dashboard length (``add_lengths`` adds them)."""
        with self._lock:
            self._refresh()
            return any(e.dashboard_length is None for e in self._live.values())

    def add_lengths(self, length_of: Callable[[SnapshotMeta], int | None]) -> None:
        """Rewrite the journal with the dashboard length of every live entry, if some lack one
        (written by an older version): ``length_of`` reads it from the entry's record, ``None``
        when no record holds the entry (a ghost, dropped). Caller holds the root's lock."""
        with self._lock:
            self._refresh()
            unsized = [e.meta for e in self._live.values() if e.dashboard_length is None]
            if not unsized:
                return
            lengths = {e.meta.id: e.dashboard_length for e in self._live.values()}
            lengths.update({meta.id: length_of(meta) for meta in unsized})
            live = sorted((e.meta for e in self._live.values()), key=lambda m: m.id)
            data = b"".join(
                encode_journal_add(m, length) for m in live if (length := lengths[m.id]) is not None
            )
            write_atomic(self.layout, self.path, data)
            self._reset(None)  # replayed afresh from the file just written
            self._refresh()
            log.info(
                "journal %s: recorded the dashboard length of %d entries", self.path, len(unsized)
            )

    def after(self, after_id: int, now: float, count: int) -> list[SnapshotMeta]:
        """The first ``count`` live entries (ghosts included) with ids above ``after_id`` that
        are unexpired at ``now``, in id order, after replaying what was appended since. The ids
        are sorted once per change of the journal and bisected, so paging through a journal
        nobody appends to costs one sort in all."""
        with self._lock:
            self._refresh()
            if self._sorted_at != (self._ident, self._offset):
                self._sorted_ids = sorted(self._live)
                self._sorted_at = (self._ident, self._offset)
            ids = self._sorted_ids
            found: list[SnapshotMeta] = []
            for index in range(bisect.bisect_right(ids, after_id), len(ids)):
                if len(found) == count:
                    break
                meta = self._live[ids[index]].meta
                if not meta.is_expired(now):
                    found.append(meta)
            return found

    def append(self, data: bytes, *, durable: bool) -> None:
        """Append complete lines; fsync first if ``durable``. Caller holds the root's lock.

        If a crash left a torn last line, a newline is written before ``data`` so the fragment
        becomes one bad line (skipped on replay) instead of corrupting ``data``'s first line.
        """
        fd = open_file(self.layout, self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)

    def compact_if_worthwhile(self) -> None:
        """Rewrite the journal with live entries only, if dead lines dominate. Caller holds the
        root's lock, so no line can be appended between the replay and the replacement."""
        with self._lock:
            self._refresh()
            dead = self._lines - len(self._live)
            if dead < max(COMPACT_MIN_DEAD, len(self._live)):
                return
            live = sorted(self._live.values(), key=lambda e: e.meta.id)
            data = b"".join(encode_journal_add(e.meta, e.dashboard_length) for e in live)
            write_atomic(self.layout, self.path, data)
            st = stat_file(self.layout, self.path)
            self._ident, self._offset, self._lines = (st.st_dev, st.st_ino), len(data), len(live)
            log.info(
                "compacted journal %s: %d live entries, %d dead dropped", self.path, len(live), dead
            )

    def _refresh(self) -> None:
        try:
            fd = open_file(self.layout, self.path, os.O_RDONLY)
        except FileNotFoundError:
            self._reset(None)
            return
        with open(fd, "rb", closefd=True) as f:
            st = os.fstat(f.fileno())
            if (st.st_dev, st.st_ino) != self._ident or st.st_size < self._offset:
                self._reset((st.st_dev, st.st_ino))
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n") + 1  # a line still being appended is left for the next replay
        for line in data[:end].splitlines():
            self._lines += 1
            try:
                entry = decode_journal_line(line)
            except CorruptData as exc:
                log.warning("skipping bad line in journal %s: %s", self.path, exc)
                continue
            if isinstance(entry, int):
                gone = self._live.pop(entry, None)
                if gone is not None:
                    self._tally.remove(gone)
                    self._scopes.remove(gone.meta)
                    self._committed.discard(entry)
                continue
            replaced = self._live.get(entry.meta.id)
            if replaced is not None:
                self._tally.remove(replaced)
                self._scopes.remove(replaced.meta)
                self._committed.discard(entry.meta.id)
            self._live[entry.meta.id] = entry
            self._tally.add(entry)
            self._scopes.add(entry.meta)
        self._offset += end

    def _reset(self, ident: tuple[int, int] | None) -> None:
        self._ident, self._offset, self._lines, self._live = ident, 0, 0, {}
        self._tally = OrgTally()
        self._scopes = ScopeIndex()
        self._committed = set[int]()  # live entries whose records were found committed
