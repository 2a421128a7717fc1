"""Changing a stored snapshot: rotate its view key, or update its name, expiry or password
(``SnapshotService.rotate`` and ``.update``, which check the caller's scope first).

Both act only on a snapshot the caller owns (its creator, or an Admin of its org; another org's
snapshot does not exist for the caller: 404). The key given may be a rotation's grace alias:
the change applies to the snapshot it points at, under its current key, as a delete does. Each
change is one atomic compare-and-update of the snapshot that was read (``expect_id``), and
what a cache may hold for the affected key is purged after it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..auth import Identity
from ..clock import Clock
from ..config import Config
from ..creating import etag, expiry_time
from ..errors import Conflict, Forbidden, SnapshotExists, SnapshotNotFound
from ..models import (
    KEY_RE,
    UNCHANGED,
    Snapshot,
    SnapshotChanges,
    SnapshotMeta,
    Unchanged,
    generate_key,
)
from ..storage import SnapshotStore
from .passwords import Passwords

log = logging.getLogger(__name__)

EXTERNAL_MESSAGE = "This snapshot was published to an external snapshot server: change it there"
_KEY_DRAWS = 3  # a generated key that happens to be taken (~2^-190) is drawn again


@dataclass(frozen=True, slots=True)
class UpdateRequest:
    """A PATCH body after type validation: each field ``None`` (or ``UNCHANGED`` for the
    password, whose ``None`` removes it) when not given."""

    name: str | None = None
    expires: int | None = None  # seconds from now, by the create body's rules
    password: str | Unchanged | None = UNCHANGED


def check_owner(identity: Identity, meta: SnapshotMeta) -> None:
    """Raise unless ``identity`` may change or delete ``meta``: ``SnapshotNotFound`` for another
    org's snapshot (it does not exist for the caller), ``Forbidden`` when the caller is neither
    its creator nor an Admin of its org."""
    if meta.org_id != identity.org_id:
        raise SnapshotNotFound()
    if meta.user_id != identity.user_id and not identity.is_admin:
        raise Forbidden("Access denied to this snapshot")


class Changer:
    def __init__(
        self,
        config: Config,
        store: SnapshotStore,
        clock: Clock,
        passwords: Passwords,
        purge: Callable[[str, str], None] | None,
    ) -> None:
        self._config = config
        self._store = store
        self._clock = clock
        self._passwords = passwords
        self._purge = purge

    async def owned(self, identity: Identity, key: str, now: float) -> Snapshot:
        """The snapshot ``key`` names (or points at, as an alias) if ``identity`` may change
        it. Raises ``SnapshotNotFound`` (none, expired, another org's), ``Forbidden`` (not the
        creator nor an org Admin), ``Conflict`` (an external snapshot)."""
        if not KEY_RE.fullmatch(key):
            raise SnapshotNotFound()
        snapshot = await self._store.get(key, now)
        check_owner(identity, snapshot.meta)
        if snapshot.meta.external:
            raise Conflict(EXTERNAL_MESSAGE)
        return snapshot

    async def rotate(self, identity: Identity, key: str, grace_seconds: int) -> SnapshotMeta:
        """Move the snapshot to a new random view key; the old one works ``grace_seconds``
        more (0: stops at once). Its deleteKey, password and everything else stay."""
        now = self._clock()
        snapshot = await self.owned(identity, key, now)
        meta = snapshot.meta
        grace_until = now + grace_seconds if grace_seconds > 0 else None
        for _draw in range(_KEY_DRAWS):
            new_key = generate_key()
            try:
                rotated = await self._store.rotate(
                    meta.key,
                    new_key,
                    now,
                    expect_id=meta.id,
                    updated=now,
                    grace_until=grace_until,
                    # The answer changes (its updated time): a new validator, as update makes,
                    # or a revalidation of the old URL during the grace would keep the old one.
                    etag=etag(new_key, snapshot.dashboard, now, meta.expires),
                )
            except SnapshotExists:
                continue
            log.info("snapshot rotated id=%d grace=%ds", meta.id, grace_seconds)
            # The old URLs: the API and the page (during a grace they answer no-store).
            self._purged(meta.key, "rotate")
            return rotated
        raise SnapshotExists("key")

    async def update(self, identity: Identity, key: str, request: UpdateRequest) -> SnapshotMeta:
        """Apply ``request``; ``updated`` becomes now, and so does the ETag, as the answer
        changes (its ``updated`` time, maybe its expiry)."""
        now = self._clock()
        snapshot = await self.owned(identity, key, now)
        meta = snapshot.meta
        expires: float | Unchanged | None = UNCHANGED
        if request.expires is not None:
            expires = expiry_time(self._config, now, request.expires)
        password_hash: str | None = None  # unchanged
        if request.password is None:
            password_hash = ""
        elif not isinstance(request.password, Unchanged):
            password_hash = await self._passwords.hash(request.password)
        new_expires = meta.expires if isinstance(expires, Unchanged) else expires
        changes = SnapshotChanges(
            updated=now,
            name=request.name,
            expires=expires,
            password_hash=password_hash,
            # ``updated`` stands in for ``created``: each change makes a distinct validator.
            etag=etag(meta.key, snapshot.dashboard, now, new_expires),
        )
        updated = await self._store.update(meta.key, now, expect_id=meta.id, changes=changes)
        log.info(
            "snapshot updated id=%d fields=%s",
            meta.id,
            ",".join(f.name for f in dataclasses.fields(request) if _given(request, f.name)),
        )
        # A CDN may hold the old answer (or, once a password is set, a copy that must go).
        self._purged(meta.key, "update")
        return updated

    def _purged(self, key: str, reason: str) -> None:
        if self._purge is not None:
            self._purge(key, reason)


def _given(request: UpdateRequest, field: str) -> bool:
    value = getattr(request, field)
    return value is not UNCHANGED if field == "password" else value is not None
