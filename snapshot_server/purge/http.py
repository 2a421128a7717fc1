"""``kind = "http"``: a PURGE (or any configured method) to every cache node, Varnish/nginx
style. The node gets the URL's path with the public ``Host`` of ``root_url``, which is what
both caches hash on, so the purge hits the object that public GETs filled.

Success is any 2xx, and also 404: Varnish's ``return (purge)`` answers 200 whether or not the
object was cached, but nginx's ``proxy_cache_purge`` answers 404 when nothing was cached for
the key, and "not cached" is exactly the state a purge wants. 405/403 (the cache's ACL refused
us) and other 4xx are failures that are not retried; 408, 429 and 5xx are retried.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self
from urllib.parse import urlsplit

from aiohttp import ClientSession

from ..config_reader import Section
from ..errors import ConfigError
from .base import Delivery, PurgeEvent
from .settings import ConfiguredPurger, PurgerSettings, check_http_url, missing, read_common
from .transport import send

DEFAULT_METHOD = "PURGE"
# An HTTP method is an RFC 9110 token; anything else could not go on a request line.
_HTTP_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


@dataclass(frozen=True, slots=True)
class HttpSettings(PurgerSettings):
    """``nodes``: the cache nodes' base URLs (a path in one, e.g. ``http://cache:8080/purge``,
    is put in front of the purged path, for nginx purge locations); ``method``: the request
    method, upper-cased (Varnish's ``PURGE``; ``GET`` for ngx_cache_purge)."""

    kind: ClassVar[str] = "http"
    nodes: tuple[str, ...]
    method: str = DEFAULT_METHOD

    @classmethod
    def read(cls, s: Section) -> Self:
        nodes = tuple(s.get_str_list("nodes", []) or [])
        for node in nodes:
            check_http_url(s.key("nodes"), node)
        if not nodes:
            raise missing(s, "nodes", cls.kind)
        method = s.get_str("method", DEFAULT_METHOD, required=True).upper()
        if not _HTTP_TOKEN.fullmatch(method):
            raise ConfigError(f"{s.key('method')}: {method!r} is not an HTTP method name")
        return cls(nodes, method, **read_common(s))


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
class HttpPurger(ConfiguredPurger[HttpSettings]):
    """Purges each URL on each node of its settings."""

    Settings = HttpSettings

    def deliveries(self, events: Sequence[PurgeEvent]) -> list[Delivery]:
        out: list[Delivery] = []
        for event in events:
            for url in event.urls:
                parts = urlsplit(url)
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                for node in self.settings.nodes:
                    out.append(
                        _NodePurge(
                            method=self.settings.method,
                            request_url=node.rstrip("/") + path,
                            host=parts.netloc,
                            timeout=self.settings.timeout,
                            target=f"{url} via {node}",
                        )
                    )
        return out
