"""``kind = "cloudflare"``: purge by URL through the zone's ``purge_cache`` API.

``POST {api_base}/zones/{zone_id}/purge_cache`` with ``{"files": [url, ...]}`` (at most 100
URLs a call, Cloudflare's limit) and ``Authorization: Bearer {api_token}``. Cloudflare answers
``{"success": bool, "errors": [{"code", "message"}], "messages": [], "result": {"id"}}``; a
purge succeeded only when the status is 2xx *and* ``success`` is true.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Self

import orjson
from aiohttp import ClientSession

from ..config_reader import Section
from .base import Delivery, PurgeError, PurgeEvent
from .settings import ConfiguredPurger, PurgerSettings, optional_url, read_common, required_str
from .transport import send

DEFAULT_API_BASE = "https://api.cloudflare.com/client/v4"
MAX_FILES_PER_CALL = 100


@dataclass(frozen=True, slots=True)
class _ZonePurge:
    endpoint: str
    files: tuple[str, ...]
    api_token: str
    timeout: float

    @property
    def target(self) -> str:
        shown = ", ".join(self.files[:2])
        more = len(self.files) - 2
        return f"{shown} (+{more} more)" if more > 0 else shown

    async def send(self, session: ClientSession) -> None:
        resp = await send(
            session,
            "POST",
            self.endpoint,
            headers={
                "Authorization": f"Bearer {self.api_token}",
                "Content-Type": "application/json",
            },
            body=orjson.dumps({"files": list(self.files)}),
            time_limit=self.timeout,
        )
        try:
            answer = orjson.loads(resp.body)
        except orjson.JSONDecodeError as exc:
            raise PurgeError("answer is not JSON", retryable=False, status=resp.status) from exc
        if not isinstance(answer, dict) or answer.get("success") is not True:
            raise PurgeError(
                f"Cloudflare refused the purge: {_errors(answer)}",
                retryable=False,
                status=resp.status,
            )


def _errors(answer: object) -> str:
    if isinstance(answer, dict) and isinstance(answer.get("errors"), list):
        texts = [
            f"{e.get('code')} {e.get('message')}" for e in answer["errors"] if isinstance(e, dict)
        ]
        if texts:
            return "; ".join(texts)
    return "success is not true"


@dataclass(frozen=True, slots=True)
class CloudflareSettings(PurgerSettings):
    """``zone_id``: the zone to purge; ``api_token``: a token with Cache Purge permission;
    ``api_base``: the API root (a stand-in's, in tests)."""

    kind: ClassVar[str] = "cloudflare"
    zone_id: str
    api_token: str = field(repr=False)  # a credential: never in a log line
    api_base: str = DEFAULT_API_BASE

    @classmethod
    def read(cls, s: Section) -> Self:
        return cls(
            zone_id=required_str(s, "zone_id", cls.kind),
            api_token=required_str(s, "api_token", cls.kind),
            api_base=optional_url(s, "api_base", DEFAULT_API_BASE),
            **read_common(s),
        )


@dataclass(frozen=True, slots=True)
class CloudflarePurger(ConfiguredPurger[CloudflareSettings]):
    """Purges every URL of a batch of events, 100 a call."""

    Settings = CloudflareSettings

    def deliveries(self, events: Sequence[PurgeEvent]) -> list[Delivery]:
        urls = [url for event in events for url in event.urls]
        cfg = self.settings
        endpoint = f"{cfg.api_base.rstrip('/')}/zones/{cfg.zone_id}/purge_cache"
        return [
            _ZonePurge(
                endpoint=endpoint,
                files=tuple(urls[i : i + MAX_FILES_PER_CALL]),
                api_token=cfg.api_token,
                timeout=cfg.timeout,
            )
            for i in range(0, len(urls), MAX_FILES_PER_CALL)
        ]
