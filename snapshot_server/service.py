"""The snapshot service: keys, expiry, URLs, permissions, scrubbing and purge triggers (the
create operation itself lives in ``creating``).

Views hand it validated requests and an ``Identity``; it talks to the ``SnapshotStore`` and raises
only ``SnapshotError`` subclasses. Every expiry decision reads the one injected clock.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable

from . import urls
from .abuse.caps import OrgCaps
from .auth import Identity
from .capture.capturing import Capturer
from .capture.failures import Uncounted
from .capture.model import CaptureRequest, CaptureStats
from .cleanup import remove_expired
from .clock import Clock
from .config import Config
from .creating import Created, CreateRequest, Creator, PreparedCreate
from .errors import (
    ExternalDeleteFailed,
    Forbidden,
    PublishedElsewhere,
    SnapshotNotFound,
    Unauthorized,
)
from .external.publishing import ExternalSnapshots
from .models import (
    KEY_RE,
    ListQuery,
    ListScope,
    Snapshot,
    SnapshotMeta,
    hash_secret,
)
from .sharing.changes import Changer, UpdateRequest, check_owner
from .sharing.passwords import Passwords
from .storage import SnapshotStore

log = logging.getLogger(__name__)

NEVER_SHOWN_AS = 50 * 365 * 86400  # Grafana's "never": created + 50 years
DELETED_MESSAGE = "Snapshot deleted. It might take an hour before it's cleared from any CDN caches."
DELETED_PURGING_MESSAGE = "Snapshot deleted. CDN caches are being purged."
DISABLED_MESSAGE = "Dashboard Snapshots are disabled"
CAPTURE_DISABLED_MESSAGE = "Capturing data on create is disabled on this server"
CAPTURE_ANONYMOUS_MESSAGE = "Anonymous snapshots cannot capture data: use a token"
CAPTURE_SCOPE_MESSAGE = "Capturing data needs the snapshots:capture scope"
CAPTURE_SCOPE = "snapshots:capture"

PurgeHook = Callable[[str, str], None]
"""Called as ``hook(key, reason)`` after a snapshot is gone; must not block or raise."""


class SnapshotService:
    def __init__(
        self,
        config: Config,
        store: SnapshotStore,
        *,
        clock: Clock,
        purge: PurgeHook | None = None,
        caps: OrgCaps | None = None,
        external: ExternalSnapshots | None = None,
        passwords: Passwords | None = None,
        capturer: Capturer | None = None,
    ) -> None:
        self.config = config
        self.capturer = capturer or Capturer(config.capture, Uncounted(), clock=clock)
        self.external = external or ExternalSnapshots(config.snapshots, caps)
        self.store = store
        self.clock = clock
        self._purge = purge
        self.passwords = passwords or Passwords()
        self._creator = Creator(config, store, clock, caps, self.passwords)
        self._changer = Changer(config, store, clock, self.passwords, purge)
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
        (``view_requires_auth``) or on a password (a protected snapshot) and no shared cache
        may keep it."""
        snapshots = self.config.snapshots
        if snapshots.view_requires_auth or meta.password_hash:
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

    def prepare_create(self, identity: Identity, request: CreateRequest) -> PreparedCreate:
        """The first, synchronous half of ``create``: permissions, the request checked, the
        dashboard scrubbed and serialised. Views call it, then drop the parsed body, then
        await ``store_create``: parsed dashboards never wait on storage."""
        self.authorize_create(identity)
        return self._creator.prepare(identity, request)

    async def capture_create(
        self, identity: Identity, request: CreateRequest
    ) -> tuple[CreateRequest, CaptureStats | None]:
        """Before ``prepare_create`` (and so before scrubbing): run the request's capture, or
        ``[capture] auto``'s, and return the request with the data embedded in its dashboard,
        and what the capture cost (``None`` when none ran: the create answers as Grafana's).

        An explicit ``capture`` raises ``Forbidden`` when capture is disabled, for anonymous
        ``public_mode`` callers and for tokens without ``snapshots:capture``; ``auto`` applies
        only to tokens holding it, and only when the body has no ``capture`` member. Raises
        what ``Capturer.capture`` raises, and first what ``prepare_create``'s checks of the
        request raise (a create bound to fail runs no query)."""
        member, settings = request.capture, self.config.capture
        auto = member.request is None
        if not auto:
            self._authorize_capture(identity)
        elif not (
            settings.enabled
            and settings.auto
            and not member.declined
            and not identity.anonymous
            and identity.can(CAPTURE_SCOPE)
        ):
            return request, None
        self._creator.check(request)
        captured = await self.capturer.capture(
            request.dashboard, member.request or CaptureRequest(), only_without_data=auto
        )
        if captured is None:  # nothing in the dashboard to capture: reported only if asked for
            empty = CaptureStats(panels=0, queries=0, series=0, points=0, ms=0)
            return request, None if auto else empty
        return dataclasses.replace(request, dashboard=captured.dashboard), captured.stats

    def _authorize_capture(self, identity: Identity) -> None:
        if not self.config.capture.enabled:
            raise Forbidden(CAPTURE_DISABLED_MESSAGE)
        if identity.anonymous:
            raise Forbidden(CAPTURE_ANONYMOUS_MESSAGE)
        if not identity.can(CAPTURE_SCOPE):
            raise Forbidden(CAPTURE_SCOPE_MESSAGE)

    async def store_create(self, prepared: PreparedCreate) -> Created:
        """The second half of ``create``: the org's caps, then the insert (for ``external``,
        the publish to the external server first, and a pointer stored here)."""
        if prepared.external:
            return Created(*await self.external.publish(self.store, prepared))
        return await self._creator.store(prepared)

    async def create(self, identity: Identity, request: CreateRequest) -> Created:
        """Store a new snapshot for ``identity``.

        Raises ``Unauthorized``/``Forbidden`` (permissions, external disabled), ``InvalidSnapshot``
        (expiry limits, keys), ``SnapshotExists`` (client-chosen key taken), ``TooManyRequests``
        or ``PayloadTooLarge`` (the org's ``caps``), ``BadGateway`` (``external``: the
        external server failed; nothing is stored)."""
        return await self.store_create(self.prepare_create(identity, request))

    def authorize_view(self, identity: Identity) -> None:
        """Raise unless ``identity`` may view snapshots (before any lookup, cached or not)."""
        anonymous_allowed = not self.config.snapshots.view_requires_auth
        self._require(identity, "snapshots:read", anonymous_allowed=anonymous_allowed)

    async def view(self, identity: Identity, key: str) -> Snapshot:
        """The unexpired snapshot with view key ``key``; raises ``SnapshotNotFound`` otherwise
        (``PublishedElsewhere`` for an external snapshot, whose data is not here)."""
        self.authorize_view(identity)
        return await self.lookup(key, self.clock())

    async def lookup(self, key: str, now: float) -> Snapshot:
        """``view`` without the permission check (the caller made it): the unexpired snapshot
        with view key ``key`` at ``now``; raises what ``view`` raises."""
        if not KEY_RE.fullmatch(key):
            raise SnapshotNotFound()
        snapshot = await self.store.get(key, now)
        if snapshot.meta.external:
            raise PublishedElsewhere(snapshot.meta.external_url)
        return snapshot

    async def delete_by_key(self, identity: Identity, key: str) -> SnapshotMeta:
        """Delete as a logged-in user: only in the caller's org (another org's snapshot is 404), and
        only the creator or an org Admin (else 403 "Access denied to this snapshot"). An external
        snapshot is deleted remotely first (``BadGateway`` if that fails: the pointer stays)."""
        self._require(identity, "snapshots:delete", anonymous_allowed=False)
        if not KEY_RE.fullmatch(key):
            raise SnapshotNotFound()
        now = self.clock()
        existing = (await self.store.get(key, now)).meta
        check_owner(identity, existing)
        await self.external.delete_first(existing)  # of an external snapshot, its remote copy
        # Only the snapshot the permissions were checked on: if it was deleted and its key
        # created again since the read, the new owner's snapshot must survive (404 here).
        # ``existing.key``: ``key`` may be a rotation's grace alias of it.
        deleted = await self.store.delete(existing.key, now, expect_id=existing.id)
        self._after_delete(deleted, "delete")
        return deleted

    async def delete_by_delete_key(self, delete_key: str) -> SnapshotMeta:
        """Delete with the deleteKey capability; no token needed.

        With ``grafana_external_compat`` an unknown deleteKey raises ``ExternalDeleteFailed``
        (the 500 Grafana reads as "already gone"), else ``SnapshotNotFound``. An external
        snapshot is deleted remotely first (``BadGateway`` if that fails: the pointer stays).
        """
        self.check_enabled()
        try:
            if not KEY_RE.fullmatch(delete_key):
                raise SnapshotNotFound()
            # By the deleteKey, not by a view key looked up first: a newer snapshot could have
            # reused the view key in between.
            delete_hash = hash_secret(delete_key)
            existing = await self.store.get_by_delete_key(delete_hash, self.clock())
            await self.external.delete_first(existing)
            deleted = await self.store.delete_by_delete_key(delete_hash, self.clock())
        except SnapshotNotFound:
            if self.config.snapshots.grafana_external_compat:
                raise ExternalDeleteFailed() from None
            raise
        self._after_delete(deleted, "delete-key")
        return deleted

    def authorize_write(self, identity: Identity) -> None:
        """Raise unless ``identity`` may rotate or update snapshots (``snapshots:write``,
        never anonymously). Views call it before reading the request body."""
        self._require(identity, "snapshots:write", anonymous_allowed=False)

    async def rotate(self, identity: Identity, key: str, grace_seconds: int) -> SnapshotMeta:
        """Give the snapshot ``key`` names a new view key (``sharing.changes``); the old one
        keeps working ``grace_seconds`` more. Raises what ``authorize_write`` raises,
        ``SnapshotNotFound``, ``Forbidden`` (not the creator nor an org Admin), ``Conflict``
        (an external snapshot)."""
        self.authorize_write(identity)
        return await self._changer.rotate(identity, key, grace_seconds)

    async def update(self, identity: Identity, key: str, request: UpdateRequest) -> SnapshotMeta:
        """Change the name, expiry and/or password of the snapshot ``key`` names; raises what
        ``rotate`` raises, and ``InvalidSnapshot`` for an expiry over the limits."""
        self.authorize_write(identity)
        return await self._changer.update(identity, key, request)

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
