"""A bounded in-process cache of GET answers for snapshots, and the rule that keeps it honest.

Snapshots never change once stored, so what a GET by key answers can be built once and kept:
until the snapshot expires (checked against the injected clock on every hit) or is deleted. Deletes
are learnt from the store's ``DeletionWatch``: whenever its version moves (a delete anywhere,
in this process, another worker or another host), the whole cache is dropped; while it is
``None`` (cannot tell), nothing is served from the cache and nothing is added.

The race rule: a lookup that misses takes a ``stamp()`` before it reads the store, and its
answer is added only if no delete was seen since (``add`` compares stamps). A snapshot read while
it is being deleted is therefore served once, as it would be without a cache, but never kept.

Bounded by the total length of the kept bodies: least recently used entries go first, and an
answer larger than the whole bound is not kept at all.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

from ..storage import DeletionWatch


class Sized(Protocol):
    @property
    def size(self) -> int:
        """Bytes this entry holds (what the bound counts)."""
        ...


E = TypeVar("E", bound=Sized)
Stamp = Hashable


class ResponseCache(Generic[E]):
    """Entries of type ``E`` by snapshot key, holding at most ``max_bytes`` in all."""

    def __init__(self, max_bytes: int, watch: DeletionWatch | None) -> None:
        self.max_bytes = max_bytes
        self._watch = watch
        self._entries: OrderedDict[str, E] = OrderedDict()
        self._bytes = 0
        self._seen: Hashable | None = None  # the watch's version the entries are valid for

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0 and self._watch is not None

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> E | None:
        """The entry for ``key``, if one is kept and no delete was seen since it was added.
        Expiry is the caller's to check (it knows the clock and the entry's type)."""
        if not self._current():
            return None
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def stamp(self) -> Stamp | None:
        """Taken before reading the store for ``add``; ``None``: nothing may be added now."""
        if not self.enabled:
            return None
        assert self._watch is not None
        return self._watch.version()

    def add(self, key: str, entry: E, stamp: Stamp | None) -> bool:
        """Keep ``entry`` if nothing was deleted since ``stamp`` was taken; evict the least
        recently used entries to stay within ``max_bytes``. Returns whether it was kept."""
        if stamp is None or stamp != self.stamp() or entry.size > self.max_bytes:
            return False
        if not self._current():
            return False
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old.size
        self._entries[key] = entry
        self._bytes += entry.size
        while self._bytes > self.max_bytes:
            _key, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size
        return True

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def _current(self) -> bool:
        """Whether entries may be served: drops them all when the watch's version moved."""
        if self._watch is None:
            return False
        version = self._watch.version()
        if version != self._seen or version is None:
            if self._entries:
                self.clear()
            self._seen = version
        return version is not None
