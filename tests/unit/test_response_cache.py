"""``ResponseCache``: bounded by bytes (least recently used out first), emptied when the
store's deletion watch moves, nothing served or kept while it cannot tell, and the race rule:
an answer read while a delete happened is not kept."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from backends.deletions import LocalDeletions
from snapshot_server.webapp.response_cache import ResponseCache


@dataclass(frozen=True)
class Entry:
    name: str
    size: int


class FlakyWatch:
    """A watch whose subscription can go down (``version`` is then ``None``)."""

    def __init__(self) -> None:
        self.up = True
        self.count = 0

    def version(self) -> Hashable | None:
        return self.count if self.up else None


def cache(max_bytes: int = 100) -> tuple[ResponseCache[Entry], LocalDeletions]:
    watch = LocalDeletions()
    return ResponseCache[Entry](max_bytes, watch), watch


def test_keeps_what_it_is_given_within_its_bound() -> None:
    c, _ = cache(100)
    for name in "abcd":
        assert c.add(name, Entry(name, 30), c.stamp())
    # 4 x 30 > 100: the least recently used ("a") went.
    assert c.get("a") is None
    assert [c.get(n) for n in "bcd"] == [Entry("b", 30), Entry("c", 30), Entry("d", 30)]
    assert c.bytes == 90
    assert len(c) == 3


def test_a_read_makes_an_entry_recently_used() -> None:
    c, _ = cache(100)
    for name in "abc":
        c.add(name, Entry(name, 30), c.stamp())
    assert c.get("a") is not None
    c.add("d", Entry("d", 30), c.stamp())
    assert c.get("b") is None  # "b" was the least recently used, not "a"
    assert c.get("a") is not None


def test_an_entry_larger_than_the_bound_is_not_kept() -> None:
    c, _ = cache(100)
    c.add("small", Entry("small", 10), c.stamp())
    assert not c.add("huge", Entry("huge", 101), c.stamp())
    assert c.get("huge") is None
    assert c.get("small") is not None  # and it evicted nothing


def test_replacing_a_key_counts_its_bytes_once() -> None:
    c, _ = cache(100)
    c.add("a", Entry("a", 60), c.stamp())
    c.add("a", Entry("a2", 50), c.stamp())
    assert c.bytes == 50
    assert c.get("a") == Entry("a2", 50)


def test_a_delete_anywhere_empties_it() -> None:
    c, watch = cache()
    c.add("a", Entry("a", 10), c.stamp())
    watch.bump()
    assert c.get("a") is None
    assert c.bytes == 0
    c.add("a", Entry("a", 10), c.stamp())  # kept again after the delete
    assert c.get("a") is not None


def test_an_answer_read_while_a_delete_happened_is_not_kept() -> None:
    c, watch = cache()
    stamp = c.stamp()  # a lookup begins reading the store...
    watch.bump()  # ...a delete (any worker, any host) is seen meanwhile...
    assert not c.add("a", Entry("a", 10), stamp)  # ...so what it read is not kept
    assert c.get("a") is None


def test_while_the_watch_cannot_tell_nothing_is_served_or_kept() -> None:
    watch = FlakyWatch()
    c = ResponseCache[Entry](100, watch)
    c.add("a", Entry("a", 10), c.stamp())
    watch.up = False  # e.g. the invalidation subscription dropped
    assert c.get("a") is None
    assert c.stamp() is None
    assert not c.add("b", Entry("b", 10), c.stamp())
    watch.up = True  # back, but deletes may have been missed meanwhile
    assert c.get("a") is None
    assert c.bytes == 0


def test_a_stamp_from_before_an_outage_is_refused() -> None:
    watch = FlakyWatch()
    c = ResponseCache[Entry](100, watch)
    stamp = c.stamp()
    watch.up = False
    watch.count += 1  # a reconnected watch reports a new version
    watch.up = True
    assert not c.add("a", Entry("a", 10), stamp)


def test_no_watch_or_no_bytes_means_no_cache() -> None:
    for c in (ResponseCache[Entry](100, None), ResponseCache[Entry](0, LocalDeletions())):
        assert not c.enabled
        assert not c.add("a", Entry("a", 1), c.stamp())
        assert c.get("a") is None
