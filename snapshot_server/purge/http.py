"""``kind = "http"``: a PURGE (or any configured method) to every cache node, Varnish/nginx
style. The node gets the URL's path with the public ``Host`` of ``root_url``, which is what
both caches hash on, so the purge hits the object that public GETs filled.

Success is any 2xx, and also 404: Varnish's ``return (purge)`` answers 200 whether or not the
object was cached, but nginx's ``proxy_cache_purge`` answers 404 when nothing was cached for
the key, and "not cached" is exactly the state a purge wants. 405/403 (the cache's ACL refused
us) and other 4xx are failures that are not retried; 408, 429 and 5xx are retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import ClientSession

from .base import Delivery, PurgeEvent
from .transport import send


@dataclass(frozen=True, slots=True)
class _NodePurge:
    method: str
    request_url: str
    host: str
    timeout: float
    target: str

    async def send(self, session: ClientSession) -> None:
        await send(
            session,
            self.method,
            self.request_url,
            headers={"Host": self.host},
            time_limit=self.timeout,
            ok=(404,),
        )


@dataclass(frozen=True, slots=True)
class HttpPurger:
    """Purges each URL on each node in ``nodes`` (base URLs; a path in a node URL, e.g.
    ``http://cache:8080/purge``, is put in front of the purged path, for nginx purge
    locations)."""

    name: str
    nodes: tuple[str, ...]
    method: str = "PURGE"
    timeout: float = 5.0
    max_attempts: int = 5

    def deliveries(self, events: Sequence[PurgeEvent]) -> list[Delivery]:
        out: list[Delivery] = []
        for event in events:
            for url in event.urls:
                parts = urlsplit(url)
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                for node in self.nodes:
                    out.append(
                        _NodePurge(
                            method=self.method,
                            request_url=node.rstrip("/") + path,
                            host=parts.netloc,
                            timeout=self.timeout,
                            target=f"{url} via {node}",
                        )
                    )
        return out
