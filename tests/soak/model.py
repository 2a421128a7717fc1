"""The soak's checker: what the clients know about every snapshot they tried to create, and the
rules every answer must keep. A broken rule raises ``SoakFailure`` at once, naming the snapshot.

A ``Record`` is one snapshot a client tried to create. Its ``state``:

* ``pending``: the create is in flight;
* ``live``: the create was acknowledged (200), or an unknown outcome was since seen present;
* ``unknown``: a create's or delete's answer was lost (a 503, or no answer, both allowed only
  inside an outage window): the snapshot may or may not exist. The first authoritative answer
  (200 or 404) settles it, and it never flips after that;
* ``gone``: deleted (acknowledged), expired, or an unknown outcome seen absent. Gone is for ever:
  a later 200, a listing or a successful delete is a resurrection.

Times are wall-clock seconds (``time.time()``, the clock the server decides expiry with), taken
by the client just before a request is sent (``sent``) and just after its answer is read
(``answered``); the server read its clock in between. So a snapshot created with ``expires = e``
expires at some instant in ``[create.sent + e, create.answered + e]``: it must be readable before
the first, must be absent after the second, and may be either in between. There is no other
grace. An outage window runs from the moment a fault is injected until ``RECONNECT_GRACE``
seconds after the server reports healthy again; only inside one may a request be answered 503 or
not at all. A 500 is never allowed.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NoReturn

from .records import Answer, Pool, Record, SoakFailure, dashboard_of

RECONNECT_GRACE = 3.0  # seconds after "healthy again" in which a 503 is still the outage's


@dataclass
class Checker:
    records: dict[str, Record] = field(default_factory=dict)  # by name (names are unique)
    active: Pool = field(default_factory=Pool)  # live or unknown, key known
    undiscovered: dict[str, Record] = field(default_factory=dict)  # unknown, key never seen
    gone: list[Record] = field(default_factory=list)  # gone with a known key: audits sample it
    windows: list[list[float]] = field(default_factory=list)  # outage [start, end]
    counts: Counter[str] = field(default_factory=Counter)

    # -- outages and errors ------------------------------------------------------------------

    def injected(self, fault: str) -> None:
        self.counts["faults injected"] += 1
        self.counts[f"fault: {fault}"] += 1

    def outage_begins(self, t: float, fault: str) -> None:
        """A fault that may make requests fail (503, or no answer) until ``outage_ends``."""
        self.injected(fault)
        self.windows.append([t, math.inf])

    def outage_ends(self, t: float) -> None:
        self.windows[-1][1] = t

    def _windows_of(self, answer: Answer) -> list[list[float]]:
        return [
            [start, end]
            for start, end in self.windows
            if start <= answer.answered and answer.sent <= end + RECONNECT_GRACE
        ]

    def in_outage(self, answer: Answer) -> bool:
        return bool(self._windows_of(answer))

    def fail(self, message: str) -> NoReturn:
        self.counts["failures"] += 1
        raise SoakFailure(message)

    def _lost(self, what: str, answer: Answer) -> bool:
        """True if ``answer`` tells nothing (no answer, or a 503, inside an outage window).
        Fails on a 5xx or a missing answer outside one, and on any 500."""
        if answer.status is None:
            if not self.in_outage(answer):
                self.fail(f"{what}: no answer outside an outage ({answer.error})")
            self.counts["unanswered in outage"] += 1
            return True
        if answer.status < 500:
            return False
        if answer.status != 503 or not self.in_outage(answer):
            self.fail(f"{what}: {answer.status} {answer.body[:300]!r}")
        if not isinstance(answer.json().get("message"), str):
            self.fail(f"{what}: 503 without a JSON message: {answer.body[:300]!r}")
        self.counts["503 in outage"] += 1
        if all(end < answer.sent for _, end in self._windows_of(answer)):
            self.counts["503 in the reconnection grace"] += 1
        return True

    def _unexpected(self, what: str, rec: Record, answer: Answer) -> NoReturn:
        self.fail(f"{what} {rec.name} ({rec.state}): {answer.status} {answer.body[:300]!r}")

    # -- state changes -----------------------------------------------------------------------

    def _gone(self, rec: Record, t: float) -> None:
        if rec.state != "gone":
            rec.state, rec.gone_at, rec.dashboard = "gone", t, None
            self.active.discard(rec)
            self.undiscovered.pop(rec.name, None)
            if rec.key is not None:
                self.gone.append(rec)

    def _absent(self, rec: Record, answer: Answer, what: str) -> None:
        """``rec`` answered 404 to ``what``: lost if it is live and cannot have expired."""
        if rec.state == "live" and not rec.may_be_expired(answer.answered):
            self.fail(f"LOST: acknowledged snapshot {rec.name} answered 404 to {what}")
        if rec.state == "unknown":
            self.counts["unknown settled absent"] += 1
        self._gone(rec, answer.answered)

    def _present(self, rec: Record) -> None:
        if rec.state == "unknown":
            rec.state = "live"
            self.counts["unknown settled present"] += 1
            if self.undiscovered.pop(rec.name, None) is not None:
                self.active.add(rec)

    # -- answers -----------------------------------------------------------------------------

    def creating(self, rec: Record) -> None:
        self.records[rec.name] = rec

    def created(self, rec: Record, answer: Answer) -> None:
        rec.answered = answer.answered
        if self._lost("create", answer):
            rec.state, rec.lost_at = "unknown", answer.answered
            self.counts["creates unknown"] += 1
            if rec.key is None:
                self.undiscovered[rec.name] = rec
            else:
                self.active.add(rec)
            return
        if answer.status != 200:
            self._unexpected("create", rec, answer)
        body = answer.json()
        if rec.key not in (None, body["key"]) or rec.delete_key not in (None, body["deleteKey"]):
            self.fail(f"create {rec.name}: answered other keys than chosen: {body}")
        rec.key, rec.delete_key, rec.id = body["key"], body["deleteKey"], body["id"]
        rec.state = "live"
        self.active.add(rec)
        self.counts["creates acknowledged"] += 1

    def viewed(self, rec: Record, answer: Answer) -> None:
        """``GET /api/snapshots/{key}`` answered (the caller holds ``rec.busy``)."""
        if self._lost("get", answer):
            return
        if answer.status == 404:
            self._absent(rec, answer, "get")
            return
        if answer.status != 200:
            self._unexpected("get", rec, answer)
        if rec.surely_expired(answer.sent):
            self.fail(f"{rec.name} readable after its expiry")
        if rec.state == "gone":
            self.fail(f"RESURRECTED: {rec.name} readable again after it was gone")
        if dashboard_of(answer.body) != rec.dashboard:
            self.fail(f"{rec.name}: dashboard bytes differ from those posted")
        self._present(rec)

    def deleted(self, rec: Record, answer: Answer, route: str) -> None:
        """A delete of ``rec`` answered (the caller holds ``rec.busy``)."""
        if self._lost(f"delete by {route}", answer):
            if rec.state == "live":
                rec.state, rec.lost_at = "unknown", answer.answered
                self.counts["deletes unknown"] += 1
            return
        if answer.status == 404:
            self._absent(rec, answer, f"delete by {route}")
            return
        if answer.status != 200:
            self._unexpected(f"delete by {route}", rec, answer)
        if rec.state == "gone":
            self.fail(f"RESURRECTED: {rec.name} deleted (by {route}) after it was gone")
        if rec.surely_expired(answer.sent):
            self.fail(f"{rec.name} deleted (by {route}) after its expiry")
        if rec.id is not None and answer.json()["id"] != rec.id:
            self.fail(f"delete of {rec.name} answered id {answer.json()['id']}, not {rec.id}")
        self.counts["deletes acknowledged"] += 1
        self._gone(rec, answer.answered)

    def raced(self, rec: Record, by_key: Answer, by_delete_key: Answer) -> None:
        """Two concurrent deletes of ``rec``, one by each route: at most one succeeds.
        Lost answers first (they may have deleted it), then the 200, then a 404."""
        answers = [(by_key, "key"), (by_delete_key, "deleteKey")]
        order = {None: 0, 200: 1}
        for answer, route in sorted(answers, key=lambda a: order.get(a[0].status, 2)):
            self.deleted(rec, answer, route)

    def refused(self, rec: Record, answer: Answer, what: str, status: int) -> None:
        """``rec`` (live, never expiring) was asked something that must be refused with
        ``status`` and change nothing: a create with its key (409), or a delete by a user who
        does not own it (403)."""
        if self._lost(what, answer):
            return
        if answer.status != status:
            self._unexpected(what, rec, answer)

    def listed(self, lister: str, query: str, limit: int, answer: Answer) -> None:
        if self._lost("list", answer):
            return
        if answer.status != 200:
            self.fail(f"list: {answer.status} {answer.body[:300]!r}")
        items: list[dict[str, Any]] = answer.json()
        ids = [item["id"] for item in items]
        if ids != sorted(set(ids)):
            self.fail(f"list: ids not in ascending order: {ids[:50]}")
        names = set()
        for item in items:
            rec = self.records.get(item["name"])
            if rec is None:
                self.fail(f"list shows a snapshot nobody created: {item}")
            names.add(rec.name)
            self._check_listed(lister, query, rec, item, answer)
        if len(items) < limit:  # the whole listing: every snapshot live throughout is in it
            for rec in [*self.active, *self.undiscovered.values()]:
                if self._in_scope(lister, query, rec) and rec.name not in names:
                    self._missing(rec, answer)

    def _in_scope(self, lister: str, query: str, rec: Record) -> bool:
        return (lister == "admin" or rec.owner == lister) and (
            query.casefold() in rec.name.casefold()
        )

    def _check_listed(
        self, lister: str, query: str, rec: Record, item: dict[str, Any], answer: Answer
    ) -> None:
        if not self._in_scope(lister, query, rec):
            self.fail(f"{lister}'s listing for {query!r} shows {rec.owner}'s {rec.name}")
        if rec.gone_at < answer.sent:
            self.fail(f"RESURRECTED: {rec.name} listed after it was gone")
        if rec.surely_expired(answer.sent):
            self.fail(f"{rec.name} listed after its expiry")
        if rec.key not in (None, item["key"]) or rec.id not in (None, item["id"]):
            self.fail(f"{rec.name} listed as {item['id']}/{item['key']}, not {rec.id}/{rec.key}")
        if rec.state == "unknown" and not rec.busy and rec.lost_at < answer.sent:
            # A lost create or delete settled: listed after the lost request was answered.
            rec.key, rec.id = item["key"], item["id"]
            self._present(rec)

    def _missing(self, rec: Record, answer: Answer) -> None:
        """``rec`` is absent from a whole listing: lost if it was live throughout; settled
        absent (for ever: never created, deleted or expired) if its outcome was unknown."""
        if rec.busy or max(rec.answered, rec.lost_at) >= answer.sent:
            return  # an operation on it may have overlapped the listing
        if rec.state == "live" and not rec.may_be_expired(answer.answered):
            self.fail(f"LOST: live snapshot {rec.name} missing from a whole listing")
        if rec.state == "unknown":
            self.counts["unknown settled absent"] += 1
            self._gone(rec, answer.answered)
