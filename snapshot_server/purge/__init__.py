"""CDN cache purging (README, "Putting a CDN or Varnish in front"): after a delete, every cache
that may hold the snapshot is told to drop it, in the background.

    service ──submit(key, reason)──▶ PurgeDispatcher (bounded queue, workers, retries)
                                        └─▶ Purger.deliveries(events) ─▶ Delivery.send(session)
                                             http · cloudflare · fastly · webhook

Each kind is one module holding its settings (a ``PurgerSettings`` read from one
``[[cdn.purgers]]`` table) and the purger made from them; ``registry.PURGERS`` lists the kinds.
``build_dispatcher(config.cdn.purgers, root_url=...)`` returns ``None`` when none is configured.
"""

from .base import Delivery, PurgeError, PurgeEvent, Purger
from .dispatcher import PurgeDispatcher, PurgeStats, backoff_delay
from .factory import build_dispatcher
from .registry import PURGER_KINDS, PURGERS, read_purger
from .settings import PurgerSettings

__all__ = [
    "PURGERS",
    "PURGER_KINDS",
    "Delivery",
    "PurgeDispatcher",
    "PurgeError",
    "PurgeEvent",
    "PurgeStats",
    "Purger",
    "PurgerSettings",
    "backoff_delay",
    "build_dispatcher",
    "read_purger",
]
