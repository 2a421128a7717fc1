"""The soak's clients: ``clients`` concurrent aiohttp clients mixing create, get, list, delete
(by key, by deleteKey, and both at once), expiry and must-be-refused operations against a running
server for ``seconds``, every answer handed to the ``Checker``; an auditor that re-reads every
live snapshot and a sample of the gone ones every ``AUDIT_EVERY`` seconds; and ``verify``, the
final audit that also settles every lost outcome."""

from __future__ import annotations

import asyncio
import io
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import orjson

from tests.processes import ADMIN_TOKEN, EDITOR_TOKEN

from .model import Checker
from .records import Answer, Record, SoakFailure

TOKENS = {"editor": EDITOR_TOKEN, "admin": ADMIN_TOKEN}
MAX_ACTIVE = 300  # past this many live snapshots creates give way to the other operations
AUDIT_EVERY = 5.0  # seconds between audits
FINAL_GONE_SAMPLE = 3000  # gone snapshots re-read by the final audit
LIST_LIMIT = 5000
GROUPS = 8  # names carry a group tag ("g3."), so listings can filter by query
# operation -> weight
MIX = {"create": 25, "get": 30, "listing": 6, "delete_by_key": 8, "delete_by_delete_key": 8,
       "delete_race": 3, "expiry": 8, "conflict": 3, "forbidden": 3}  # fmt: skip
TEXT = ["plain", 'quote " and backslash \\', "µs ✓ 😀", "line\nbreak\t\u2028", "", "<b>&amp;</b>"]

_values = random.Random(0)
# Drawn once: a dashboard takes a random run of them (drawing each value costs ~1 µs a point).
VALUES = [
    _values.choice([_values.random() * 10 ** _values.randint(-5, 9), _values.getrandbits(53)])
    for _ in range(50_000)
]


def random_dashboard(rng: random.Random, n: int) -> dict[str, Any]:
    """A dashboard of varied size (a few hundred bytes to ~1 MB) and content."""
    points = rng.choices([0, 10, 300, 3000, 40_000], weights=[15, 40, 30, 12, 3])[0]
    panels: list[dict[str, Any]] = []
    for i in range(rng.randint(1, 6)):
        start = rng.randrange(len(VALUES) - points)
        values = VALUES[start : start + points // (i + 1)]
        panels.append(
            {"id": i, "type": rng.choice(["timeseries", "stat", "table", "text"]),
             "title": rng.choice(TEXT), "gridPos": {"x": 0, "y": i, "w": 24, "h": 8},
             "snapshotData": [{"target": f"s{i}", "values": values, "nulls": [None, True]}]}
        )  # fmt: skip
    return {"title": f"soak {n} {rng.choice(TEXT)}", "panels": panels, "uid": f"u{n}"}


@contextmanager
def holding(rec: Record) -> Iterator[None]:
    """Mark ``rec`` busy: no other operation picks it meanwhile (listings still see it)."""
    rec.busy = True
    try:
        yield
    finally:
        rec.busy = False


class Soak:
    def __init__(
        self, base_url: str, checker: Checker, *, seed: int, seconds: float, clients: int = 8
    ) -> None:
        self.base = base_url.rstrip("/")
        self.checker = checker
        self.rng = random.Random(seed)
        self.seconds = seconds
        self.clients = clients
        self.ops: Counter[str] = Counter()
        self._numbers = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None

    async def run(self, fault: Callable[[], Coroutine[Any, Any, None]] | None = None) -> None:
        """Run the load (and ``fault`` beside it), then ``verify``. Raises ``SoakFailure``."""
        timeout = aiohttp.ClientTimeout(total=30)
        connector = aiohttp.TCPConnector(limit=4 * self.clients)  # clients, races, audits
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            self._session = session
            deadline = time.monotonic() + self.seconds
            try:
                async with asyncio.TaskGroup() as group:
                    for _ in range(self.clients):
                        group.create_task(self._client(deadline))
                    group.create_task(self._auditor(deadline))
                    if fault is not None:
                        group.create_task(fault())
            except BaseExceptionGroup as errors:
                failures = [e for e in errors.exceptions if isinstance(e, SoakFailure)]
                if failures:
                    raise failures[0] from None
                raise
            await self.verify()

    async def send(
        self, method: str, path: str, *, user: str | None = None, **kwargs: Any
    ) -> Answer:
        assert self._session is not None
        headers = {"Authorization": f"Bearer {TOKENS[user]}"} if user else {}
        if (json := kwargs.pop("json", None)) is not None:
            # A file-like body: aiohttp warns that big raw bytes might block the event loop.
            kwargs["data"] = io.BytesIO(orjson.dumps(json))
            headers["Content-Type"] = "application/json"
        sent = time.time()
        try:
            async with self._session.request(
                method, self.base + path, headers=headers, **kwargs
            ) as response:
                body = await response.read()
                return Answer(sent, time.time(), response.status, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Answer(sent, time.time(), None, error=repr(exc))

    async def _client(self, deadline: float) -> None:
        operations = list(MIX)
        while time.monotonic() < deadline:
            weights = [
                0 if op == "create" and len(self.checker.active) >= MAX_ACTIVE else MIX[op]
                for op in operations
            ]
            op = self.rng.choices(operations, weights)[0]
            await getattr(self, op)()
            await asyncio.sleep(0)  # an operation that found nothing to work on awaited nothing

    def _pick(self, want: Callable[[Record], bool] = lambda rec: True) -> Record | None:
        """A random live (or unknown) snapshot that nothing else is working on, or ``None``."""
        for _ in range(8):
            rec = self.checker.active.choice(self.rng)
            if rec is not None and not rec.busy and want(rec):
                return rec
        return None

    # -- operations --------------------------------------------------------------------------

    async def create(self) -> None:
        n = next(self._numbers)
        rng = self.rng
        chosen = rng.random() < 0.5  # half with client-chosen keys, half generated
        tag = f"{rng.getrandbits(32):08x}"
        dashboard = random_dashboard(rng, n)
        rec = Record(
            name=f"soak-{n} g{n % GROUPS}.",
            owner=rng.choice(["editor", "admin"]),
            key=f"k{n}-{tag}" if chosen else None,
            delete_key=f"d{n}-{tag}" if chosen else None,
            dashboard=orjson.dumps(dashboard),  # what the server stores: orjson's serialisation
            expires_in=rng.choices([None, 1, 2, 3, 3600], weights=[55, 10, 10, 10, 15])[0],
            sent=time.time(),
        )
        body: dict[str, Any] = {"dashboard": dashboard, "name": rec.name}
        if rec.expires_in is not None:
            body["expires"] = rec.expires_in
        if chosen:
            body.update(key=rec.key, deleteKey=rec.delete_key)
        self.checker.creating(rec)
        self.ops["create"] += 1
        answer = await self.send("POST", "/api/snapshots", user=rec.owner, json=body)
        rec.sent = answer.sent
        self.checker.created(rec, answer)

    async def get(self) -> None:
        if rec := self._pick():
            with holding(rec):
                self.ops["get"] += 1
                self.checker.viewed(rec, await self.send("GET", f"/api/snapshots/{rec.key}"))

    async def delete_by_key(self) -> None:
        if rec := self._pick():
            user = "admin" if rec.owner == "admin" or self.rng.random() < 0.3 else "editor"
            with holding(rec):
                self.ops["delete by key"] += 1
                answer = await self.send("DELETE", f"/api/snapshots/{rec.key}", user=user)
                self.checker.deleted(rec, answer, "key")

    async def delete_by_delete_key(self) -> None:
        if rec := self._pick(lambda r: r.delete_key is not None):
            with holding(rec):
                self.ops["delete by deleteKey"] += 1
                answer = await self.send("GET", f"/api/snapshots-delete/{rec.delete_key}")
                self.checker.deleted(rec, answer, "deleteKey")

    async def delete_race(self) -> None:
        """Both routes at once: exactly one may succeed."""
        if rec := self._pick(lambda r: r.delete_key is not None):
            with holding(rec):
                self.ops["delete race (both routes at once)"] += 1
                by_key, by_delete_key = await asyncio.gather(
                    self.send("DELETE", f"/api/snapshots/{rec.key}", user="admin"),
                    self.send("GET", f"/api/snapshots-delete/{rec.delete_key}"),
                )
                self.checker.raced(rec, by_key, by_delete_key)

    async def expiry(self) -> None:
        """A snapshot with a short ``expires``: readable before, 404 on every route after."""
        if rec := self._pick(lambda r: r.expires_in is not None and r.expires_in < 60):
            with holding(rec):
                self.ops["expiry check"] += 1
                expired = rec.surely_expired(time.time())
                self.checker.viewed(rec, await self.send("GET", f"/api/snapshots/{rec.key}"))
                if expired and rec.delete_key is not None:
                    answer = await self.send("GET", f"/api/snapshots-delete/{rec.delete_key}")
                    self.checker.deleted(rec, answer, "deleteKey")
                if expired:
                    self.ops["expired and gone"] += 1

    async def listing(self) -> None:
        lister = self.rng.choice(["editor", "admin"])
        query = self.rng.choice(["", f"g{self.rng.randrange(GROUPS)}."])
        limit = self.rng.choice([LIST_LIMIT, LIST_LIMIT, 20])  # 20: a page, not the whole
        self.ops["list"] += 1
        params = {"query": query, "limit": str(limit)}
        answer = await self.send("GET", "/api/dashboard/snapshots", user=lister, params=params)
        self.checker.listed(lister, query, limit, answer)

    async def conflict(self) -> None:
        """A create with a live snapshot's key: 409, and the snapshot stays as it was."""
        if rec := self._pick(lambda r: r.state == "live" and r.expires_in is None):
            with holding(rec):
                self.ops["conflicting create (409)"] += 1
                other = f"x{next(self._numbers)}-{self.rng.getrandbits(32):08x}"
                body = {"dashboard": {"title": "impostor"}, "key": rec.key, "deleteKey": other}
                answer = await self.send("POST", "/api/snapshots", user="editor", json=body)
                self.checker.refused(rec, answer, "conflicting create", 409)

    async def forbidden(self) -> None:
        """An Editor deleting an Admin's snapshot by key: 403, and nothing is deleted."""
        want = lambda r: r.state == "live" and r.expires_in is None and r.owner == "admin"  # noqa: E731
        if rec := self._pick(want):
            with holding(rec):
                self.ops["forbidden delete (403)"] += 1
                answer = await self.send("DELETE", f"/api/snapshots/{rec.key}", user="editor")
                self.checker.refused(rec, answer, "editor deleting admin's", 403)

    # -- audits ------------------------------------------------------------------------------

    async def _auditor(self, deadline: float) -> None:
        while deadline - time.monotonic() > AUDIT_EVERY:
            await asyncio.sleep(AUDIT_EVERY)
            await self.audit(gone_sample=200)

    async def audit(self, *, gone_sample: int, delete_gone: bool = False) -> None:
        """Re-read every live or unknown snapshot and ``gone_sample`` gone ones (with
        ``delete_gone``, try their deleteKeys too: 404 on every route)."""
        self.ops["audits"] += 1
        gone = self.checker.gone
        targets = [*self.checker.active, *self.rng.sample(gone, min(gone_sample, len(gone)))]
        gate = asyncio.Semaphore(self.clients)

        async def one(rec: Record) -> None:
            async with gate:
                if rec.busy:
                    return
                with holding(rec):
                    self.ops["audit reads"] += 1
                    self.checker.viewed(rec, await self.send("GET", f"/api/snapshots/{rec.key}"))
                    if delete_gone and rec.state == "gone" and rec.delete_key is not None:
                        path = f"/api/snapshots-delete/{rec.delete_key}"
                        self.checker.deleted(rec, await self.send("GET", path), "deleteKey")

        async with asyncio.TaskGroup() as group:
            for rec in targets:
                group.create_task(one(rec))

    async def verify(self) -> None:
        """The final word: every live snapshot readable with its bytes, a sample of the gone
        ones 404 on both routes, and every lost outcome settled, present or absent."""
        await self.audit(gone_sample=FINAL_GONE_SAMPLE, delete_gone=True)
        self.ops["list"] += 1
        params = {"limit": str(LIST_LIMIT)}
        answer = await self.send("GET", "/api/dashboard/snapshots", user="admin", params=params)
        self.checker.listed("admin", "", LIST_LIMIT, answer)
        unsettled = [r.name for r in self.checker.records.values() if r.state == "unknown"]
        if unsettled:
            raise SoakFailure(f"lost outcomes never settled: {unsettled[:20]}")

    def report(self) -> str:
        counts = self.checker.counts
        live = len(self.checker.active)
        ops = ", ".join(f"{name} {n}" for name, n in sorted(self.ops.items()))
        model = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
        return (
            f"{sum(self.ops.values())} operations ({ops}); {model}; {live} live at the end, "
            f"every one verified; acknowledged operations lost: 0"
        )
