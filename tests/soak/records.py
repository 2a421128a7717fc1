"""What the soak's clients know: ``Answer`` (one HTTP exchange, timed), ``Record`` (one snapshot
a client tried to create, and what is known of it) and ``Pool`` (records to pick from).

The rules these are held to are ``model``'s.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson

State = Literal["pending", "live", "unknown", "gone"]
PREFIX_END = b',"dashboard":'


class SoakFailure(AssertionError):
    """A rule of the soak was broken: a lost write, a resurrected delete, a stray 5xx..."""


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP exchange as the client saw it: wall-clock times just before it was sent and
    just after its answer was read (the server read its clock in between); ``status is None``:
    no answer at all."""

    sent: float
    answered: float
    status: int | None
    body: bytes = b""
    error: str = ""

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass(eq=False, slots=True)
class Record:
    """One snapshot a client tried to create (``model`` explains its ``state``). Times as in
    ``Answer``: its expiry instant lies in ``[sent + expires_in, answered + expires_in]``."""

    name: str
    owner: str  # "editor" or "admin": the token that created it
    key: str | None  # None: the server generates it (known once answered or listed)
    delete_key: str | None
    dashboard: bytes | None  # the exact bytes every 200 must carry; dropped once gone
    expires_in: int | None
    sent: float
    answered: float = math.inf
    id: int | None = None
    state: State = "pending"
    gone_at: float = math.inf
    lost_at: float = 0.0  # when the last lost answer (which made it unknown) came
    busy: bool = False  # an operation on this very snapshot is in flight

    def may_be_expired(self, t: float) -> bool:
        return self.expires_in is not None and t >= self.sent + self.expires_in

    def surely_expired(self, t: float) -> bool:
        return self.expires_in is not None and t > self.answered + self.expires_in


def dashboard_of(body: bytes) -> bytes:
    """The dashboard bytes of a view answer, exactly as the server sent them."""
    start = body.index(PREFIX_END) + len(PREFIX_END)
    return body[start:-1]


class Pool:
    """A set of records with O(1) add, discard and random choice (the soak picks a random live
    snapshot for most operations, thousands of times a second)."""

    def __init__(self) -> None:
        self._items: list[Record] = []
        self._index: dict[str, int] = {}  # record name -> position in _items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Record]:
        return iter(list(self._items))  # a copy: callers change the pool while iterating

    def add(self, record: Record) -> None:
        if record.name not in self._index:
            self._index[record.name] = len(self._items)
            self._items.append(record)

    def discard(self, record: Record) -> None:
        position = self._index.pop(record.name, None)
        if position is None:
            return
        last = self._items.pop()
        if last is not record:  # move the last item into the hole
            self._items[position] = last
            self._index[last.name] = position

    def choice(self, rng: random.Random) -> Record | None:
        return rng.choice(self._items) if self._items else None
