"""CDN cache purging (SPEC §6): after a delete, every cache that may hold the snapshot is told
to drop it, in the background.

    service ──submit(key, reason)──▶ PurgeDispatcher (bounded queue, workers, retries)
                                        └─▶ Purger.deliveries(events) ─▶ Delivery.send(session)
                                             http · cloudflare · fastly · webhook

``build_dispatcher(config.cdn, root_url=...)`` returns ``None`` when no purger is configured.
"""

from .base import Delivery, PurgeError, PurgeEvent, Purger
from .dispatcher import PurgeDispatcher, PurgeStats, backoff_delay
from .factory import build_dispatcher, build_purger

__all__ = [
    "Delivery",
    "PurgeDispatcher",
    "PurgeError",
    "PurgeEvent",
    "PurgeStats",
    "Purger",
    "backoff_delay",
    "build_dispatcher",
    "build_purger",
]
