"""The service's hand-off for external snapshots: ``publish`` on create, ``delete_first``
before a local delete.

Publishing is two steps that cannot be one transaction: the remote create, then the local
pointer. The remote goes first, so a failing remote leaves nothing here; when the local insert
fails after it, the remote copy is deleted again (best effort, logged), so no snapshot is left
published that nobody here can delete.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from ..abuse.caps import OrgCaps
from ..config import SnapshotsConfig
from ..errors import BadGateway, SnapshotError, SnapshotExists
from ..models import NewSnapshot, SnapshotMeta, generate_key, hash_secret
from ..storage import SnapshotStore
from .client import RemoteClient
from .settings import create_url, delete_url

if TYPE_CHECKING:
    from ..creating import PreparedCreate

log = logging.getLogger(__name__)

NO_DASHBOARD = b""
"""The stored body of an external snapshot: its dashboard lives on the remote only."""


PUBLISH_OUTCOMES = ("published", "failed", "withdrawn")
"""What became of a publish: stored here and there; the remote failed (nothing stored); or
the remote took it but storing the pointer here failed, so the remote copy was deleted again."""


class ExternalSnapshots:
    """Publishes to ``config.external_snapshot_url`` and deletes remote copies. Made whether or
    not publishing is enabled: pointers stored while it was on must stay deletable.
    ``on_publish(outcome)`` is told each publish's outcome (``PUBLISH_OUTCOMES``), for metrics.
    """

    def __init__(
        self,
        config: SnapshotsConfig,
        caps: OrgCaps | None = None,
        *,
        on_publish: Callable[[str], None] = lambda outcome: None,
    ) -> None:
        self.config = config
        self.caps = caps
        self._on_publish = on_publish
        self.client = RemoteClient(
            timeout=config.external_timeout, token=config.external_snapshot_token
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def publish(
        self,
        store: SnapshotStore,
        prepared: PreparedCreate,
    ) -> tuple[SnapshotMeta, str]:
        """Create ``prepared``'s snapshot (validated, its dashboard serialised) on the remote,
        then store the local pointer to it; return the pointer and its local deleteKey (the
        client's if it chose one). Raises ``BadGateway`` (502) for any remote failure, and
        what the store or the org's caps raise."""
        identity, dashboard, now, expires = (
            prepared.identity, prepared.dashboard, prepared.now, prepared.expires
        )  # fmt: skip
        name, key, delete_key = prepared.name, prepared.key, prepared.delete_key
        if self.caps is not None:
            await self.caps.check(store, identity.org_id, len(NO_DASHBOARD), now)
        body = _create_body(name, dashboard, key, delete_key, now, expires)
        try:
            published = await self.client.create(
                create_url(self.config.external_snapshot_url), body
            )
        except BadGateway as exc:
            log.warning("external snapshot not published: %s", exc.message)  # for the operator
            self._on_publish("failed")
            raise
        remote_delete_url = delete_url(
            self.config.external_snapshot_url, published.delete_url, published.delete_key
        )
        delete_key = delete_key or generate_key()
        meta = SnapshotMeta(
            id=0,
            key=published.key,
            delete_key_hash=hash_secret(delete_key),
            name=name,
            org_id=identity.org_id,
            user_id=identity.user_id,
            external=True,
            external_url=published.url,
            external_delete_url=remote_delete_url,
            created=now,
            updated=now,
            expires=expires,
            etag=_etag(published.key, published.url),
        )
        try:
            stored = await store.insert(NewSnapshot(meta, NO_DASHBOARD))
        except SnapshotError as exc:
            await self._withdraw(remote_delete_url)
            self._on_publish("withdrawn")
            if isinstance(exc, SnapshotExists) and exc.field == "key" and published.key != key:
                # The remote chose a key this store already holds: nothing the client can fix.
                raise BadGateway(
                    "The external snapshot server answered a key already used here"
                ) from None
            raise
        log.info(
            "external snapshot published id=%d org=%d user=%d to %s",
            stored.id, stored.org_id, stored.user_id, self.config.external_snapshot_url,
        )  # fmt: skip
        self._on_publish("published")
        return stored, delete_key

    async def delete_first(self, meta: SnapshotMeta) -> None:
        """Before ``meta`` is deleted here: if it is external, delete its remote copy (Grafana's
        rule: 200, or the compat 500 for one already gone, is success). Raises ``BadGateway``
        otherwise, and the caller keeps the local pointer so the delete can be tried again."""
        if not meta.external:
            return
        try:
            await self.client.delete(meta.external_delete_url)
        except BadGateway as exc:
            log.warning("external snapshot id=%d not deleted: %s", meta.id, exc.message)
            raise

    async def _withdraw(self, delete_url: str) -> None:
        try:
            await self.client.delete(delete_url)
        except BadGateway as exc:
            log.warning("could not withdraw an external snapshot not stored here: %s", exc)


def _create_body(
    name: str,
    dashboard: bytes,
    key: str | None,
    delete_key: str | None,
    now: float,
    expires: float | None,
) -> bytes:
    """What Grafana sends: the five keys, ``""`` for a key to generate, and ``expires`` in
    seconds from now (0 = never), so the remote copy expires with the local pointer."""
    fields: dict[str, Any] = {
        "name": name,
        "expires": 0 if expires is None else max(1, round(expires - now)),
        "dashboard": orjson.Fragment(dashboard),
        "key": key or "",
        "deleteKey": delete_key or "",
    }
    return orjson.dumps(fields)


def _etag(key: str, url: str) -> str:
    # Never served (the local key of an external snapshot is 404), but every record has one.
    return '"' + hashlib.sha256(f"external\0{key}\0{url}".encode()).hexdigest()[:40] + '"'
