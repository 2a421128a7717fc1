"""GET /api/snapshots/{key}: the answer for a snapshot built once (meta with its times formatted,
ETag, headers, body) and kept in the ``ResponseCache``; per request only Cache-Control's max-age
is worked out, when the snapshot expires.

Permissions are not decided here: the handler asks the service first, so a cached answer is
never served to a caller who may not see it. Two kinds of answer are never kept: a protected
snapshot's (its password is checked on every request, and no copy of it may outlive a change
of password), and one found through a rotation's grace alias (the alias ends at a time the
cache does not know; such answers are ``private, no-store``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from aiohttp import web

from ..clock import rfc3339
from ..models import Snapshot, SnapshotMeta
from ..service import SnapshotService
from .response_cache import ResponseCache
from .responses import JSON_TYPE, etag_matches, snapshot_cache_headers

_HEADERS_SIZE = 512  # what an entry holds beside its body, roughly, for the cache's bound

# The part of the answer's meta that is the same for every snapshot, serialised once.
_FIXED_META = orjson.dumps(
    {
        "isSnapshot": True,
        "type": "snapshot",
        "canSave": False,
        "canEdit": False,
        "canAdmin": False,
        "canStar": False,
        "canDelete": False,
        "slug": "",
        "url": "",
    }
)[:-1]


@dataclass(frozen=True, slots=True)
class SnapshotAnswer:
    """A snapshot's GET answer, ready to send: ``body`` is the whole JSON document."""

    expires: float | None
    etag: str
    body: bytes
    headers: dict[str, str]  # all but Cache-Control when ``cache_control`` is None
    cache_control: str | None  # None: it depends on the time (``max-age`` up to the expiry)
    max_age: int  # the longest max-age (``[snapshots] cache_max_age``)
    meta: SnapshotMeta  # for the password check of a protected snapshot

    @property
    def protected(self) -> bool:
        return bool(self.meta.password_hash)

    @property
    def size(self) -> int:
        return len(self.body) + _HEADERS_SIZE

    def is_expired(self, now: float) -> bool:
        return self.expires is not None and self.expires <= now

    def respond(self, request: web.Request, now: float) -> web.Response:
        """200 with the body, or 304 when ``If-None-Match`` names the ETag; Cache-Control
        never allows keeping it past the expiry."""
        headers = dict(self.headers)
        if self.cache_control is not None:
            headers["Cache-Control"] = self.cache_control
        else:
            assert self.expires is not None
            left = max(0, min(self.max_age, math.floor(self.expires - now)))
            headers["Cache-Control"] = f"public, max-age={left}"
        if etag_matches(request.headers.get("If-None-Match"), self.etag):
            return web.Response(status=304, headers=headers)
        headers["Content-Type"] = JSON_TYPE
        return web.Response(body=self.body, headers=headers)


def build_answer(
    service: SnapshotService, snapshot: Snapshot, *, private: bool = False
) -> SnapshotAnswer:
    """The answer for ``snapshot``: its stored dashboard bytes spliced in as they are (no parse
    or re-serialisation), its three times formatted here, once."""
    meta = snapshot.meta
    times = orjson.dumps(
        {
            "expires": rfc3339(service.shown_expiry(meta)),
            "created": rfc3339(meta.created),
            "updated": rfc3339(meta.updated),
        }
    )
    body = b'{"meta":%s,%s},"dashboard":%s}' % (_FIXED_META, times[1:-1], snapshot.dashboard)
    snapshots = service.config.snapshots
    # Constant unless it counts down to the expiry (``SnapshotService.cache_max_age``).
    max_age = None if private else service.cache_max_age(meta)
    constant = max_age is None or meta.expires is None
    cache_control = None
    headers = snapshot_cache_headers(meta, max_age)
    if constant:
        cache_control = headers["Cache-Control"]
    del headers["Cache-Control"]
    return SnapshotAnswer(
        meta.expires, meta.etag, body, headers, cache_control, snapshots.cache_max_age, meta
    )


class SnapshotAnswers:
    """Finds the answer for a key: from the cache, or from the store (then kept)."""

    def __init__(
        self,
        service: SnapshotService,
        cache: ResponseCache[SnapshotAnswer],
        count: Callable[[bool], None] = lambda hit: None,
    ) -> None:
        """``count(hit)`` is told of every lookup of a valid key: from the cache or not."""
        self.service = service
        self.cache = cache
        self._count = count

    async def find(self, key: str) -> SnapshotAnswer:
        """The unexpired snapshot's answer; raises what ``SnapshotService.lookup`` raises
        (``SnapshotNotFound``, ``PublishedElsewhere``, storage errors). The caller has checked
        the permission to view."""
        now = self.service.clock()
        answer = self.cache.get(key)
        if answer is not None and not answer.is_expired(now):
            self._count(True)
            return answer
        self._count(False)
        stamp = self.cache.stamp()
        snapshot = await self.service.lookup(key, now)
        alias = snapshot.meta.key != key
        answer = build_answer(self.service, snapshot, private=alias)
        if not (alias or answer.protected):
            self.cache.add(key, answer, stamp)
        return answer
