"""The snapshot service: keys, expiry, URLs, permissions, scrubbing and purge triggers.

Views hand it validated requests and an ``Identity``; it talks to the ``SnapshotStore`` and raises
only ``SnapshotError`` subclasses. Every expiry decision reads the one injected clock.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from . import urls
from .abuse.caps import OrgCaps
from .auth import Identity
from .cleanup import remove_expired
from .clock import Clock
from .config import Config
from .errors import (
    ExternalDeleteFailed,
    Forbidden,
    InvalidSnapshot,
    SnapshotExists,
    SnapshotNotFound,
    Unauthorized,
)
from .models import (
    HUNDRED_YEARS,
    KEY_RE,
    ListQuery,
    ListScope,
    NewSnapshot,
    Snapshot,
    SnapshotMeta,
    generate_key,
    hash_secret,
)
from .scrub import sanitize_dashboard
from .storage import SnapshotStore

log = logging.getLogger(__name__)

NEVER_SHOWN_AS = 50 * 365 * 86400  # Grafana's "never": created + 50 years
DELETED_MESSAGE = "Snapshot deleted. It might take an hour before it's cleared from any CDN caches."
DELETED_PURGING_MESSAGE = "Snapshot deleted. CDN caches are being purged."
DISABLED_MESSAGE = "Dashboard Snapshots are disabled"
EXTERNAL_DISABLED_MESSAGE = "External dashboard creation is disabled"

PurgeHook = Callable[[str, str], None]
"""Called as ``hook(key, reason)`` after a snapshot is gone; must not block or raise."""


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """A create body after type validation (views do that); ``None`` keys mean "generate"."""

    dashboard: dict[str, Any]
    name: str
    expires: int
    external: bool
    key: str | None
    delete_key: str | None


@dataclass(frozen=True, slots=True)
class Created:
    snapshot: SnapshotMeta
    delete_key: str


class SnapshotService:
    def __init__(
        self,
        config: Config,
        store: SnapshotStore,
        *,
        clock: Clock,
        purge: PurgeHook | None = None,
        caps: OrgCaps | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self._purge = purge
        self._caps = caps
        self.root_url = config.server.public_root
        self.public_mode = config.snapshots.public_mode

    # -- URLs and presentation ---------------------------------------------------------------

    def view_url(self, key: str) -> str:
        return urls.view_url(self.root_url, key)

    def delete_url(self, delete_key: str) -> str:
        return urls.delete_url(self.root_url, delete_key)

    def shown_expiry(self, meta: SnapshotMeta) -> float:
        """The expiry time clients see: "never" is shown as created + 50 years, as Grafana does."""
        return meta.expires if meta.expires is not None else meta.created + NEVER_SHOWN_AS

    def cache_max_age(self, meta: SnapshotMeta) -> int | None:
        """How long a shared cache may keep the answer for ``meta`` (``cache_max_age``, never
        past its expiry), or ``None`` when the answer depends on the caller's token
        (``view_requires_auth``) and no shared cache may keep it."""
        snapshots = self.config.snapshots
        if snapshots.view_requires_auth:
            return None
        if meta.expires is None:
            return snapshots.cache_max_age
        return max(0, min(snapshots.cache_max_age, math.floor(meta.expires - self.clock())))

    def deleted_message(self) -> str:
        return DELETED_PURGING_MESSAGE if self._purge is not None else DELETED_MESSAGE

    # -- operations --------------------------------------------------------------------------

    def check_enabled(self) -> None:
        """Raise ``Forbidden`` on every snapshot route when ``snapshots.enabled = false``."""
        if not self.config.snapshots.enabled:
            raise Forbidden(DISABLED_MESSAGE)

    def _require(self, identity: Identity, scope: str, *, anonymous_allowed: bool) -> None:
        """Raise ``Forbidden`` when snapshots are disabled or a token lacks ``scope``, and
        ``Unauthorized`` for an anonymous caller unless ``anonymous_allowed``."""
        self.check_enabled()
        if identity.anonymous:
            if not anonymous_allowed:
                raise Unauthorized()
        elif not identity.can(scope):
            raise Forbidden()

    def authorize_create(self, identity: Identity) -> None:
        """Raise unless ``identity`` may create (``snapshots:create``, or anonymously in
        ``public_mode``). Views call it before reading the request body."""
        self._require(identity, "snapshots:create", anonymous_allowed=self.public_mode)

    async def create(self, identity: Identity, request: CreateRequest) -> Created:
        """Store a new snapshot for ``identity``.

        Raises ``Unauthorized``/``Forbidden`` (permissions, external disabled), ``InvalidSnapshot``
        (expiry limits, keys), ``SnapshotExists`` (client-chosen key taken), ``TooManyRequests``
        or ``PayloadTooLarge`` (the org's ``caps``)."""
        self.authorize_create(identity)
        if request.external:
            # Publishing to another snapshot server is not implemented (config refuses it).
            raise Forbidden(EXTERNAL_DISABLED_MESSAGE)
        for field, value in (("key", request.key), ("deleteKey", request.delete_key)):
            if value is not None and not KEY_RE.fullmatch(value):
                raise InvalidSnapshot(f"{field} must match {KEY_RE.pattern}")
        if request.key is not None and request.key == request.delete_key:
            # Otherwise everyone the view link is shared with could delete the snapshot.
            raise InvalidSnapshot("key and deleteKey must differ")

        now = self.clock()
        expires = self._expiry(now, request.expires)
        dashboard = request.dashboard
        sanitize_dashboard(dashboard, scrub=self.config.snapshots.scrub)
        # Serialised once here; every GET serves these bytes as they are.
        try:
            body = orjson.dumps(dashboard)
        except orjson.JSONEncodeError as exc:
            # orjson reads 1024 levels of nesting but writes only 254: refuse, don't 500.
            raise InvalidSnapshot("dashboard is nested too deeply") from exc
        if self._caps is not None:
            await self._caps.check(self.store, identity.org_id, len(body), now)
        # A generated key that happens to collide (~2^-190) is simply drawn again.
        for _attempt in range(3):
            key = request.key or generate_key()
            delete_key = request.delete_key or generate_key()
            meta = SnapshotMeta(
                id=0,  # the store chooses it
                key=key,
                delete_key_hash=hash_secret(delete_key),
                name=request.name,
                org_id=identity.org_id,
                user_id=identity.user_id,
                external=False,
                external_url="",
                external_delete_url="",
                created=now,
                updated=now,
                expires=expires,
                etag=_etag(key, body, now, expires),
            )
            record = NewSnapshot(meta, body)
            try:
                stored = await self.store.insert(record)
            except SnapshotExists as exc:
                chosen = request.key if exc.field == "key" else request.delete_key
                if chosen is not None:
                    raise
                continue
            log.info(
                "snapshot created id=%d org=%d user=%d", stored.id, stored.org_id, stored.user_id
            )
            return Created(snapshot=stored, delete_key=delete_key)
        raise SnapshotExists("key")

    def _expiry(self, now: float, expires: int) -> float | None:
        limit = self.config.snapshots.max_expires
        if expires > HUNDRED_YEARS:
            raise InvalidSnapshot(f"expires must be at most {HUNDRED_YEARS} seconds (100 years)")
        if limit and expires > limit:
            raise InvalidSnapshot(
                f"expires must be at most {limit} seconds (snapshots.max_expires)"
            )
        if expires <= 0:
            expires = limit
        return now + expires if expires > 0 else None

    async def view(self, identity: Identity, key: str) -> Snapshot:
        """The unexpired snapshot with view key ``key``; raises ``SnapshotNotFound`` otherwise."""
        self._require(
            identity,
            "snapshots:read",
            anonymous_allowed=not self.config.snapshots.view_requires_auth,
        )
        if not KEY_RE.fullmatch(key):
            raise SnapshotNotFound()
        return await self.store.get(key, self.clock())

    async def delete_by_key(self, identity: Identity, key: str) -> SnapshotMeta:
        """Delete as a logged-in user: only in the caller's org (another org's snapshot is 404), and
        only the creator or an org Admin (else 403 "Access denied to this snapshot")."""
        self._require(identity, "snapshots:delete", anonymous_allowed=False)
        if not KEY_RE.fullmatch(key):
            raise SnapshotNotFound()
        now = self.clock()
        existing = (await self.store.get(key, now)).meta
        if existing.org_id != identity.org_id:
            raise SnapshotNotFound()  # another org's snapshot does not exist for this caller
        if existing.user_id != identity.user_id and not identity.is_admin:
            raise Forbidden("Access denied to this snapshot")
        # Only the snapshot the permissions were checked on: if it was deleted and its key
        # created again since the read, the new owner's snapshot must survive (404 here).
        deleted = await self.store.delete(key, now, expect_id=existing.id)
        self._after_delete(deleted, "delete")
        return deleted

    async def delete_by_delete_key(self, delete_key: str) -> SnapshotMeta:
        """Delete with the deleteKey capability; no token needed.

        With ``grafana_external_compat`` an unknown deleteKey raises ``ExternalDeleteFailed``
        (the 500 Grafana reads as "already gone"), else ``SnapshotNotFound``.
        """
        self.check_enabled()
        try:
            if not KEY_RE.fullmatch(delete_key):
                raise SnapshotNotFound()
            # One atomic store operation: a lookup followed by a delete by view key could hit a
            # newer snapshot that reused the key in between.
            deleted = await self.store.delete_by_delete_key(hash_secret(delete_key), self.clock())
        except SnapshotNotFound:
            if self.config.snapshots.grafana_external_compat:
                raise ExternalDeleteFailed() from None
            raise
        self._after_delete(deleted, "delete-key")
        return deleted

    def authorize_list(self, identity: Identity) -> None:
        """Raise unless ``identity`` may list (``snapshots:read``, or anonymously in
        ``public_mode``, where the anonymous caller owns nothing listable)."""
        self._require(identity, "snapshots:read", anonymous_allowed=self.public_mode)

    async def list(self, identity: Identity, query: ListQuery) -> list[SnapshotMeta]:
        """The caller's snapshots (an Admin's whole org); ``public_mode``'s anonymous caller
        owns nothing listable and gets ``[]``. Raises what ``authorize_list`` raises."""
        self.authorize_list(identity)
        if identity.anonymous:
            return []
        scope = ListScope(identity.org_id, None if identity.is_admin else identity.user_id)
        return await self.store.list_snapshots(scope, query, self.clock())

    async def cleanup_expired(self, batch: int = 1000) -> int:
        """Remove every expired snapshot now, in chunks of at most ``batch`` that yield to the
        event loop (``cleanup.remove_expired``); purge each. Returns how many."""
        return await remove_expired(self.store, self.clock, self._purge, batch=batch)

    def _after_delete(self, meta: SnapshotMeta, reason: str) -> None:
        log.info("snapshot deleted id=%d reason=%s", meta.id, reason)
        if self._purge is not None:
            self._purge(meta.key, reason)


def _etag(key: str, body: bytes, created: float, expires: float | None) -> str:
    """A strong validator for the whole GET response, computed once at create."""
    digest = hashlib.sha256(body)
    digest.update(f"\0{key}\0{created!r}\0{expires!r}".encode())
    return f'"{digest.hexdigest()[:40]}"'
