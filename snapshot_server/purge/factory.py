"""Build the purgers and their dispatcher from the configured ``[[cdn.purgers]]``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..clock import Clock, Sleep, system_clock
from .base import Purger
from .dispatcher import PurgeDispatcher
from .registry import PURGERS
from .settings import PurgerSettings


def build_purger(settings: PurgerSettings, index: int, *, clock: Clock = system_clock) -> Purger:
    """The purger of the ``index``-th config entry, named ``"{kind}[{index}]"`` in logs;
    ``clock`` stamps its requests."""
    return PURGERS[settings.kind](f"{settings.kind}[{index}]", settings, clock)


def build_dispatcher(
    purgers: Sequence[PurgerSettings],
    *,
    root_url: str,
    clock: Clock = system_clock,
    sleep: Sleep = asyncio.sleep,
) -> PurgeDispatcher | None:
    """A dispatcher for every configured purger, not yet started; ``None`` when there are
    none (then a delete answers that CDN caches may take an hour to clear). ``root_url`` is
    the public base URL; ``sleep`` waits out each retry's backoff."""
    if not purgers:
        return None
    built = [build_purger(cfg, i, clock=clock) for i, cfg in enumerate(purgers)]
    return PurgeDispatcher(built, root_url=root_url, clock=clock, sleep=sleep)
