"""The soak's checker catches what it is there to catch: each rule of ``model`` broken once,
with answers made by hand (times in seconds from 100)."""

from __future__ import annotations

import orjson
import pytest

from .model import Checker
from .records import Answer, Record, SoakFailure

DASHBOARD = b'{"title":"t","panels":[]}'


def made(
    checker: Checker, name: str = "r", *, expires_in: int | None = None, owner: str = "editor"
) -> Record:
    """A snapshot created at 100.0, acknowledged at 100.1."""
    rec = Record(name, owner, f"k-{name}", f"d-{name}", DASHBOARD, expires_in, sent=100.0)
    checker.creating(rec)
    ids = len(checker.records)
    body = {"key": rec.key, "deleteKey": rec.delete_key, "id": ids}
    checker.created(rec, Answer(100.0, 100.1, 200, orjson.dumps(body)))
    return rec


def view(sent: float, dashboard: bytes = DASHBOARD, status: int = 200) -> Answer:
    body = b'{"meta":{},"dashboard":' + dashboard + b"}" if status == 200 else b"{}"
    return Answer(sent, sent + 0.01, status, body)


def deleted(sent: float, status: int = 200, snapshot_id: int = 1) -> Answer:
    body = orjson.dumps({"message": "deleted", "id": snapshot_id} if status == 200 else {})
    return Answer(sent, sent + 0.01, status, body)


def unavailable(sent: float) -> Answer:
    return Answer(sent, sent + 0.01, 503, b'{"message":"Storage unavailable"}')


def listing(sent: float, *recs: Record) -> Answer:
    items = [{"id": r.id, "name": r.name, "key": r.key} for r in recs]
    return Answer(sent, sent + 0.01, 200, orjson.dumps(items))


def test_an_acknowledged_snapshot_answering_404_is_lost() -> None:
    checker = Checker()
    rec = made(checker)
    checker.viewed(rec, view(101.0))
    with pytest.raises(SoakFailure, match="LOST"):
        checker.viewed(rec, view(102.0, status=404))


def test_other_bytes_fail() -> None:
    checker = Checker()
    rec = made(checker)
    with pytest.raises(SoakFailure, match="bytes differ"):
        checker.viewed(rec, view(101.0, b'{"title":"t", "panels":[]}'))


def test_expiry_is_either_only_between_its_earliest_and_latest_instant() -> None:
    checker = Checker()
    early, racing, late = (made(checker, n, expires_in=2) for n in "abc")
    with pytest.raises(SoakFailure, match="LOST"):  # answered before 100.0 + 2: must be there
        checker.viewed(early, view(101.98, status=404))
    checker.viewed(racing, view(101.995, status=404))  # answered 102.005: may have expired
    assert racing.state == "gone"
    checker.viewed(late, view(102.05))  # sent before 100.1 + 2: may still be there
    with pytest.raises(SoakFailure, match="after its expiry"):
        checker.viewed(late, view(102.11))


def test_a_deleted_snapshot_stays_deleted() -> None:
    checker = Checker()
    rec = made(checker)
    checker.deleted(rec, deleted(101.0), "deleteKey")
    checker.viewed(rec, view(102.0, status=404))
    checker.deleted(rec, deleted(102.0, 404), "key")
    with pytest.raises(SoakFailure, match="RESURRECTED"):
        checker.viewed(rec, view(103.0))
    with pytest.raises(SoakFailure, match="RESURRECTED"):
        checker.deleted(rec, deleted(103.0), "key")
    with pytest.raises(SoakFailure, match="RESURRECTED"):
        checker.listed("admin", "", 100, listing(103.0, rec))


def test_of_two_concurrent_deletes_only_one_may_succeed() -> None:
    checker = Checker()
    one, two = made(checker, "one"), made(checker, "two")
    checker.raced(one, deleted(101.0, 404), deleted(101.0, 200))
    assert one.state == "gone"
    with pytest.raises(SoakFailure, match="RESURRECTED"):
        checker.raced(two, deleted(101.0, 200, 2), deleted(101.0, 200, 2))


def test_no_5xx_but_a_503_inside_an_outage_and_never_a_500() -> None:
    checker = Checker()
    rec = made(checker)
    with pytest.raises(SoakFailure, match="503"):
        checker.viewed(rec, unavailable(101.0))
    checker.outage_begins(102.0, "test")
    checker.viewed(rec, unavailable(102.5))
    with pytest.raises(SoakFailure, match="500"):
        checker.viewed(rec, Answer(102.5, 102.6, 500, b'{"message":"Internal server error"}'))
    with pytest.raises(SoakFailure, match="no answer"):
        checker.viewed(rec, Answer(101.0, 101.5, None, error="ServerDisconnectedError"))
    checker.viewed(rec, Answer(102.0, 102.5, None, error="ServerDisconnectedError"))
    checker.outage_ends(104.0)
    checker.viewed(rec, unavailable(106.0))  # reconnecting: within RECONNECT_GRACE
    with pytest.raises(SoakFailure, match="503"):
        checker.viewed(rec, unavailable(107.5))
    assert checker.counts["503 in the reconnection grace"] == 1


def test_a_lost_outcome_settles_once_and_never_flips() -> None:
    checker = Checker()
    checker.outage_begins(100.0, "test")
    created, deleted_ = made(checker, "created"), made(checker, "deleted")
    absent = Record("absent", "editor", "k-absent", "d-absent", DASHBOARD, None, sent=100.2)
    checker.creating(absent)
    checker.created(absent, unavailable(100.2))
    checker.deleted(deleted_, unavailable(100.3), "key")
    assert (absent.state, deleted_.state) == ("unknown", "unknown")
    checker.outage_ends(100.5)
    checker.viewed(absent, view(110.0, status=404))
    checker.viewed(deleted_, view(110.0))  # the delete did not happen after all
    with pytest.raises(SoakFailure, match="RESURRECTED"):
        checker.viewed(absent, view(111.0))
    with pytest.raises(SoakFailure, match="LOST"):
        checker.viewed(deleted_, view(111.0, status=404))
    assert created.state == "live"


def test_a_lost_create_with_a_generated_key_is_settled_by_whole_listings() -> None:
    checker = Checker()
    checker.outage_begins(100.0, "test")
    found, never = (Record(n, "editor", None, None, DASHBOARD, None, sent=100.0) for n in "fn")
    for rec in (found, never):
        checker.creating(rec)
        checker.created(rec, unavailable(100.0))
    checker.outage_ends(100.5)
    shown = {"id": 7, "name": "f", "key": "generated"}
    checker.listed("admin", "", 100, Answer(110.0, 110.1, 200, orjson.dumps([shown])))
    assert (found.state, found.key, found.id) == ("live", "generated", 7)
    assert never.state == "gone"
    late = orjson.dumps([shown, {"id": 8, "name": "n", "key": "late"}])
    with pytest.raises(SoakFailure, match="RESURRECTED"):
        checker.listed("admin", "", 100, Answer(111.0, 111.1, 200, late))


def test_listings_show_exactly_the_snapshots_live_throughout() -> None:
    checker = Checker()
    mine, admins = made(checker, "mine"), made(checker, "admins", owner="admin")
    with pytest.raises(SoakFailure, match="shows admin's"):
        checker.listed("editor", "", 100, listing(101.0, mine, admins))
    with pytest.raises(SoakFailure, match="missing from a whole listing"):
        checker.listed("admin", "", 100, listing(101.0, mine))
    checker.listed("admin", "", 1, listing(101.0, mine))  # one page: the rest may follow
    checker.listed("admin", "adm", 100, listing(101.0, admins))
    with pytest.raises(SoakFailure, match="ascending"):
        checker.listed("admin", "", 100, listing(101.0, admins, mine))
    stranger = {"id": 99, "name": "stranger", "key": "s"}
    with pytest.raises(SoakFailure, match="nobody created"):
        checker.listed("admin", "", 100, Answer(101.0, 101.1, 200, orjson.dumps([stranger])))


def test_a_request_that_must_be_refused_must_be_refused() -> None:
    checker = Checker()
    rec = made(checker)
    checker.refused(rec, Answer(101.0, 101.1, 409, b"{}"), "conflicting create", 409)
    with pytest.raises(SoakFailure, match="conflicting create"):
        checker.refused(rec, Answer(101.0, 101.1, 200, b"{}"), "conflicting create", 409)
