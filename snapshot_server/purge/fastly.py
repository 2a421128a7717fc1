"""``kind = "fastly"``: purge by surrogate key, one key a call.

``POST {api_base}/service/{service_id}/purge/snapshot-{key}`` with ``Fastly-Key: {api_token}``
and ``Accept: application/json`` (Fastly's "purge by surrogate key tag"); Fastly answers 200
``{"status": "ok", "id": "..."}``. A hard purge (no ``Fastly-Soft-Purge``): a deleted snapshot
must not be served even stale. The server tags every snapshot response with
``Surrogate-Key: snapshot-{key}``, so one call clears the JSON and the viewer page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Self
from urllib.parse import quote

import orjson
from aiohttp import ClientSession

from ..config_reader import Section
from .base import Delivery, PurgeError, PurgeEvent
from .settings import ConfiguredPurger, PurgerSettings, optional_url, read_common, required_str
from .transport import send

DEFAULT_API_BASE = "https://api.fastly.com"


@dataclass(frozen=True, slots=True)
class _KeyPurge:
    endpoint: str
    api_token: str
    timeout: float
    target: str

    async def send(self, session: ClientSession) -> None:
        resp = await send(
            session,
            "POST",
            self.endpoint,
            headers={"Fastly-Key": self.api_token, "Accept": "application/json"},
            time_limit=self.timeout,
        )
        try:
            answer = orjson.loads(resp.body)
        except orjson.JSONDecodeError as exc:
            raise PurgeError("answer is not JSON", retryable=False, status=resp.status) from exc
        if not isinstance(answer, dict) or answer.get("status") != "ok":
            raise PurgeError(f"Fastly answered {answer!r}", retryable=False, status=resp.status)


@dataclass(frozen=True, slots=True)
class FastlySettings(PurgerSettings):
    """``service_id``: the Fastly service; ``api_token``: a token with purge_select scope;
    ``api_base``: the API root (a stand-in's, in tests)."""

    kind: ClassVar[str] = "fastly"
    service_id: str
    api_token: str = field(repr=False)  # a credential: never in a log line
    api_base: str = DEFAULT_API_BASE

    @classmethod
    def read(cls, s: Section) -> Self:
        return cls(
            service_id=required_str(s, "service_id", cls.kind),
            api_token=required_str(s, "api_token", cls.kind),
            api_base=optional_url(s, "api_base", DEFAULT_API_BASE),
            **read_common(s),
        )


@dataclass(frozen=True, slots=True)
class FastlyPurger(ConfiguredPurger[FastlySettings]):
    """Purges the surrogate key of every event of a batch, one call each."""

    Settings = FastlySettings

    def deliveries(self, events: Sequence[PurgeEvent]) -> list[Delivery]:
        cfg = self.settings
        base = f"{cfg.api_base.rstrip('/')}/service/{quote(cfg.service_id, safe='')}/purge/"
        return [
            _KeyPurge(
                endpoint=base + quote(tag, safe=""),
                api_token=cfg.api_token,
                timeout=cfg.timeout,
                target=f"surrogate key {tag}",
            )
            for tag in dict.fromkeys(event.surrogate_key for event in events)
        ]
