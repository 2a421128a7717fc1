"""``kind = "webhook"``: a signed JSON POST per deleted snapshot, for caches we do not know.

Body (UTF-8 JSON, sent byte-identical on every retry)::

    {"event": "snapshot.deleted", "key": "...", "urls": ["...", "..."],
     "surrogate_keys": ["snapshot-..."], "deleted_at": "2026-11-22T04:31:52Z",
     "reason": "delete" | "delete-key" | "expired"}

Headers: ``Content-Type: application/json``; ``X-Snapshot-Event: snapshot.deleted``;
``X-Snapshot-Delivery``: a UUID that is the same on every retry of one delivery (receivers
de-duplicate on it); ``X-Snapshot-Timestamp``: POSIX seconds when this attempt was signed;
``X-Snapshot-Signature: sha256=<hex>``, the HMAC-SHA256 with the configured ``secret`` of the
bytes ``f"{timestamp}.".encode() + body``. A receiver recomputes it, compares in constant time
and rejects timestamps far from its clock (replays). Never sent: the deleteKey or the dashboard.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Self

import orjson
from aiohttp import ClientSession

from ..clock import Clock, rfc3339
from ..config_reader import Section, redact_url
from .base import Delivery, PurgeEvent
from .settings import (
    ConfiguredPurger,
    PurgerSettings,
    check_http_url,
    read_common,
    required_str,
)
from .transport import send as _send

EVENT = "snapshot.deleted"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Snapshot-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def payload(event: PurgeEvent) -> bytes:
    """The exact body POSTed for ``event``."""
    return orjson.dumps(
        {
            "event": EVENT,
            "key": event.key,
            "urls": list(event.urls),
            "surrogate_keys": [event.surrogate_key],
            "deleted_at": rfc3339(event.deleted_at),
            "reason": event.reason,
        }
    )


@dataclass(frozen=True, slots=True)
class _WebhookPost:
    url: str
    secret: str
    body: bytes
    timeout: float
    clock: Clock
    target: str
    delivery_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    async def send(self, session: ClientSession) -> None:
        # Signed per attempt: a retry carries a fresh timestamp, so receivers can keep a
        # tight replay window; the delivery id stays the same for de-duplication.
        ts = int(self.clock())
        await _send(
            session,
            "POST",
            self.url,
            headers={
                "Content-Type": "application/json",
                "X-Snapshot-Event": EVENT,
                "X-Snapshot-Delivery": self.delivery_id,
                "X-Snapshot-Timestamp": str(ts),
                "X-Snapshot-Signature": sign(self.secret, ts, self.body),
            },
            body=self.body,
            time_limit=self.timeout,
        )


@dataclass(frozen=True, slots=True)
class WebhookSettings(PurgerSettings):
    """``url``: where to POST (credentials or a query string in it are never logged);
    ``secret``: the HMAC key receivers verify the signature with."""

    kind: ClassVar[str] = "webhook"
    url: str
    secret: str = field(repr=False)  # a credential: never in a log line

    @classmethod
    def read(cls, s: Section) -> Self:
        url = required_str(s, "url", cls.kind)
        check_http_url(s.key("url"), url)
        return cls(url, required_str(s, "secret", cls.kind), **read_common(s))


@dataclass(frozen=True, slots=True)
class WebhookPurger(ConfiguredPurger[WebhookSettings]):
    """Posts one signed event per deleted snapshot; ``clock`` stamps each attempt."""

    Settings = WebhookSettings

    def deliveries(self, events: Sequence[PurgeEvent]) -> list[Delivery]:
        cfg = self.settings
        return [
            _WebhookPost(
                url=cfg.url,
                secret=cfg.secret,
                body=payload(event),
                timeout=cfg.timeout,
                clock=self.clock,
                target=f"snapshot {event.key} to {redact_url(cfg.url)}",
            )
            for event in events
        ]
