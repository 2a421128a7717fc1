"""Creating a snapshot (``SnapshotService.create``), in two steps.

``prepare`` is synchronous: it checks the request (external, keys, expiry), scrubs the parsed
dashboard and serialises it, once; the stored bytes are what every GET serves. ``store`` is
asynchronous: the org's caps, then the insert, drawing generated keys again on a collision.
Between the two only the serialised bytes survive, so however many creates wait on storage,
none of them holds its dashboard's parsed objects (several times the size of its JSON) meanwhile.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import orjson

from .abuse.caps import OrgCaps
from .auth import Identity
from .capture.member import ABSENT, CaptureMember
from .clock import Clock
from .config import Config
from .errors import Forbidden, InvalidSnapshot, SnapshotExists
from .models import (
    HUNDRED_YEARS,
    KEY_RE,
    NewSnapshot,
    SnapshotMeta,
    generate_key,
    hash_secret,
)
from .scrub import sanitize_dashboard
from .sharing.passwords import Passwords
from .storage import SnapshotStore

log = logging.getLogger(__name__)

EXTERNAL_DISABLED_MESSAGE = "External dashboard creation is disabled"
# A generated key that happens to collide (~2^-190) is simply drawn again.
_KEY_DRAWS = 3


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """A create body after type validation (views do that); ``None`` keys mean "generate"."""

    dashboard: dict[str, Any]
    name: str
    expires: int
    external: bool
    key: str | None
    delete_key: str | None
    password: str | None = None  # checked by the view (``passwords.check_password``)
    capture: CaptureMember = ABSENT
    """The ``capture`` member (``capture.member``): the service runs it before ``prepare``."""


@dataclass(frozen=True, slots=True)
class Created:
    snapshot: SnapshotMeta
    delete_key: str


@dataclass(frozen=True, slots=True)
class PreparedCreate:
    """A checked create, its dashboard serialised: what ``Creator.store`` takes."""

    identity: Identity
    dashboard: bytes
    name: str
    now: float
    expires: float | None
    key: str | None
    delete_key: str | None
    external: bool = False
    """Published to the external snapshot server; only a pointer is stored here."""
    password: str | None = None
    """The password to protect it with, until ``store`` hashes it (never stored as is)."""


class Creator:
    """The create operation of one ``SnapshotService`` (which checks permissions first)."""

    def __init__(
        self,
        config: Config,
        store: SnapshotStore,
        clock: Clock,
        caps: OrgCaps | None,
        passwords: Passwords,
    ) -> None:
        self._config = config
        self._store = store
        self._clock = clock
        self._caps = caps
        self._passwords = passwords

    def prepare(self, identity: Identity, request: CreateRequest) -> PreparedCreate:
        """Check ``request`` and serialise its dashboard (scrubbed in place first).

        Raises ``Forbidden`` (external while publishing is disabled) and ``InvalidSnapshot``
        (keys, expiry, nesting)."""
        self.check(request)
        now = self._clock()
        expires = self._expiry(now, request.expires)
        sanitize_dashboard(request.dashboard, scrub=self._config.snapshots.scrub)
        try:
            dashboard = orjson.dumps(request.dashboard)
        except orjson.JSONEncodeError as exc:
            # orjson reads 1024 levels of nesting but writes only 254: refuse, don't 500.
            raise InvalidSnapshot("dashboard is nested too deeply") from exc
        return PreparedCreate(
            identity,
            dashboard,
            request.name,
            now,
            expires,
            request.key,
            request.delete_key,
            request.external,
            request.password,
        )

    def check(self, request: CreateRequest) -> None:
        """The checks of ``request`` that do not read its dashboard: the service runs them
        before a capture too, so a create bound to fail costs no Prometheus query. Raises
        ``Forbidden`` and ``InvalidSnapshot`` as ``prepare`` does (but nesting)."""
        if request.external and not self._config.snapshots.external_enabled:
            raise Forbidden(EXTERNAL_DISABLED_MESSAGE)
        for field, value in (("key", request.key), ("deleteKey", request.delete_key)):
            if value is not None and not KEY_RE.fullmatch(value):
                raise InvalidSnapshot(f"{field} must match {KEY_RE.pattern}")
        if request.password is not None and request.external:
            # The password would guard a pointer; the data is served by the other server.
            raise InvalidSnapshot("password cannot protect an external snapshot")
        if request.key is not None and request.key == request.delete_key:
            # Otherwise everyone the view link is shared with could delete the snapshot.
            raise InvalidSnapshot("key and deleteKey must differ")
        self._expiry(self._clock(), request.expires)

    async def store(self, prepared: PreparedCreate) -> Created:
        """Store ``prepared``. Raises ``SnapshotExists`` (a client-chosen key taken),
        ``TooManyRequests`` or ``PayloadTooLarge`` (the org's caps), ``StorageUnavailable``."""
        identity, now, body = prepared.identity, prepared.now, prepared.dashboard
        if self._caps is not None:
            await self._caps.check(self._store, identity.org_id, len(body), now)
        password_hash = ""
        if prepared.password is not None:
            password_hash = await self._passwords.hash(prepared.password)
        for _draw in range(_KEY_DRAWS):
            key = prepared.key or generate_key()
            delete_key = prepared.delete_key or generate_key()
            meta = SnapshotMeta(
                id=0,  # the store chooses it
                key=key,
                delete_key_hash=hash_secret(delete_key),
                name=prepared.name,
                org_id=identity.org_id,
                user_id=identity.user_id,
                external=False,
                external_url="",
                external_delete_url="",
                created=now,
                updated=now,
                expires=prepared.expires,
                etag=etag(key, body, now, prepared.expires),
                password_hash=password_hash,
            )
            try:
                stored = await self._store.insert(NewSnapshot(meta, body))
            except SnapshotExists as exc:
                chosen = prepared.key if exc.field == "key" else prepared.delete_key
                if chosen is not None:
                    raise
                continue
            log.info(
                "snapshot created id=%d org=%d user=%d", stored.id, stored.org_id, stored.user_id
            )
            return Created(snapshot=stored, delete_key=delete_key)
        raise SnapshotExists("key")

    def _expiry(self, now: float, expires: int) -> float | None:
        return expiry_time(self._config, now, expires)


def expiry_time(config: Config, now: float, expires: int) -> float | None:
    """When a snapshot asked to live ``expires`` seconds from ``now`` expires (``None``:
    never), by the create body's rules: 0 or negative means never, or ``max_expires`` when
    that is set. Raises ``InvalidSnapshot`` above ``max_expires`` or 100 years."""
    limit = config.snapshots.max_expires
    if expires > HUNDRED_YEARS:
        raise InvalidSnapshot(f"expires must be at most {HUNDRED_YEARS} seconds (100 years)")
    if limit and expires > limit:
        raise InvalidSnapshot(f"expires must be at most {limit} seconds (snapshots.max_expires)")
    if expires <= 0:
        expires = limit
    return now + expires if expires > 0 else None


def etag(key: str, body: bytes, created: float, expires: float | None) -> str:
    """A strong validator for the whole GET response, computed once at create."""
    digest = hashlib.sha256(body)
    digest.update(f"\0{key}\0{created!r}\0{expires!r}".encode())
    return f'"{digest.hexdigest()[:40]}"'
