"""Build the dispatcher from ``[[cdn.purgers]]``: the one place that knows every kind."""

from __future__ import annotations

import asyncio
import random as _random
from collections.abc import Callable

from ..clock import Clock, Sleep, system_clock
from ..config import CdnConfig, PurgerConfig
from .base import Purger
from .cloudflare import DEFAULT_API_BASE as CLOUDFLARE_API
from .cloudflare import CloudflarePurger
from .dispatcher import PurgeDispatcher
from .fastly import DEFAULT_API_BASE as FASTLY_API
from .fastly import FastlyPurger
from .http import HttpPurger
from .webhook import WebhookPurger


def build_purger(cfg: PurgerConfig, index: int, *, clock: Clock = system_clock) -> Purger:
    """The purger for one config entry, named ``"{kind}[{index}]"`` in logs. Raises
    ``ValueError`` for an unknown kind (the config loader already rejects those)."""
    name = f"{cfg.kind}[{index}]"
    t, n = cfg.timeout, cfg.max_attempts
    if cfg.kind == "http":
        return HttpPurger(name, cfg.nodes, cfg.method, timeout=t, max_attempts=n)
    if cfg.kind == "cloudflare":
        base = cfg.api_base or CLOUDFLARE_API
        return CloudflarePurger(name, cfg.zone_id, cfg.api_token, base, timeout=t, max_attempts=n)
    if cfg.kind == "fastly":
        base = cfg.api_base or FASTLY_API
        return FastlyPurger(name, cfg.service_id, cfg.api_token, base, timeout=t, max_attempts=n)
    if cfg.kind == "webhook":
        return WebhookPurger(name, cfg.url, cfg.secret, timeout=t, max_attempts=n, clock=clock)
    raise ValueError(f"unknown purger kind {cfg.kind!r}")


def build_dispatcher(
    cdn: CdnConfig,
    *,
    root_url: str,
    clock: Clock = system_clock,
    sleep: Sleep = asyncio.sleep,
    random: Callable[[], float] = _random.random,
    queue_size: int = 10_000,
    workers: int = 4,
) -> PurgeDispatcher | None:
    """A dispatcher for every configured purger, not yet started; ``None`` when there are
    none (then a delete answers that CDN caches may take an hour to clear). ``root_url`` is
    the public base URL."""
    if not cdn.purgers:
        return None
    purgers = [build_purger(cfg, i, clock=clock) for i, cfg in enumerate(cdn.purgers)]
    return PurgeDispatcher(
        purgers,
        root_url=root_url,
        clock=clock,
        sleep=sleep,
        random=random,
        queue_size=queue_size,
        workers=workers,
    )
