"""Running totals per org of the journal's live entries: what ``org_usage`` answers from,
without reading a record.

The journal feeds every entry it replays in (``add``) and every removal (``remove``); a read
subtracts the org's entries expired by then but not yet removed by ``delete_expired``, found by
bisecting a list sorted by expiry, so it costs O(those entries), not O(the org). Like the
journal, the totals include ghost entries (a crash between the journal line and the record's
commit) until ``delete_expired`` drops them, once expired.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
from dataclasses import dataclass, field

from snapshot_server.storage import OrgUsage

from .format import JournalEntry


@dataclass(slots=True)
class _Org:
    snapshots: int = 0
    bytes: int = 0
    # (expires, id, length) of the org's expiring entries, in that order.
    expiring: list[tuple[float, int, int]] = field(default_factory=list)


class OrgTally:
    def __init__(self) -> None:
        self._orgs: dict[int, _Org] = {}

    def add(self, entry: JournalEntry) -> None:
        meta, length = entry.meta, entry.dashboard_length or 0
        org = self._orgs.setdefault(meta.org_id, _Org())
        org.snapshots += 1
        org.bytes += length
        if meta.expires is not None:
            bisect.insort(org.expiring, (meta.expires, meta.id, length))

    def remove(self, entry: JournalEntry) -> None:
        """Take back an entry ``add`` took in."""
        meta, length = entry.meta, entry.dashboard_length or 0
        org = self._orgs[meta.org_id]
        org.snapshots -= 1
        org.bytes -= length
        if meta.expires is not None:
            item = (meta.expires, meta.id, length)
            del org.expiring[bisect.bisect_left(org.expiring, item)]
        if not org.snapshots:
            del self._orgs[meta.org_id]

    def usage(self, org_id: int, now: float) -> OrgUsage:
        """The org's entries that have not expired by ``now``, and their dashboards' bytes."""
        org = self._orgs.get(org_id)
        if org is None:
            return OrgUsage()
        # Every entry with expires <= now sorts before (now, inf, inf).
        expired = org.expiring[: bisect.bisect_right(org.expiring, (now, math.inf, math.inf))]
        return OrgUsage(
            org.snapshots - len(expired), org.bytes - sum(length for _, _, length in expired)
        )

    def expired(self, now: float, count: int) -> list[int]:
        """The ids of the first ``count`` entries expired by ``now`` (all orgs), earliest
        expiry first: a merge of each org's expired prefix, O(orgs + count log orgs)."""
        bound = (now, math.inf, math.inf)
        prefixes = (
            itertools.islice(org.expiring, bisect.bisect_right(org.expiring, bound))
            for org in self._orgs.values()
        )
        return [entry_id for _, entry_id, _ in itertools.islice(heapq.merge(*prefixes), count)]
