"""``kind = "cloudflare"``: purge by URL through the zone's ``purge_cache`` API.

``POST {api_base}/zones/{zone_id}/purge_cache`` with ``{"files": [url, ...]}`` (at most 100
URLs a call, Cloudflare's limit) and ``Authorization: Bearer {api_token}``. Cloudflare answers
``{"success": bool, "errors": [{"code", "message"}], "messages": [], "result": {"id"}}``; a
purge succeeded only when the status is 2xx *and* ``success`` is true.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from aiohttp import ClientSession

from .base import Delivery, PurgeError, PurgeEvent
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
class CloudflarePurger:
    name: str
    zone_id: str
    api_token: str
    api_base: str = DEFAULT_API_BASE
    timeout: float = 5.0
    max_attempts: int = 5

    def deliveries(self, events: Sequence[PurgeEvent]) -> list[Delivery]:
        urls = [url for event in events for url in event.urls]
        endpoint = f"{self.api_base.rstrip('/')}/zones/{self.zone_id}/purge_cache"
        return [
            _ZonePurge(
                endpoint=endpoint,
                files=tuple(urls[i : i + MAX_FILES_PER_CALL]),
                api_token=self.api_token,
                timeout=self.timeout,
            )
            for i in range(0, len(urls), MAX_FILES_PER_CALL)
        ]
