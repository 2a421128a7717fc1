"""The Prometheus HTTP API client of captures: one planned query in, its ``data`` member out.

Safety rules, as for the external snapshot client:

* Only configured datasources are called (clients name one, never give a URL).
* No redirect is followed: a 3xx is a failure (it could send the credentials anywhere).
* Answers are read incrementally against the capture's ``ByteBudget`` (``max_response_bytes``
  for all of one snapshot's answers), and no further once it is spent.
* No cookie is kept, no proxy is taken from the environment.

Every failure is a ``SnapshotError`` the error middleware answers as JSON: a PromQL error is
``InvalidSnapshot`` (400) naming the panel, its title and the target's refId with Prometheus's
own message; an unreachable server or an answer that is not Prometheus's is ``BadGateway``
(502); Prometheus's own timeout is ``GatewayTimeout`` (504); a spent budget is
``PayloadTooLarge`` (413). The caller bounds the whole capture in time (``capturing``).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from ..errors import BadGateway, GatewayTimeout, InvalidSnapshot, PayloadTooLarge, SnapshotError
from .model import PlannedQuery
from .settings import DatasourceSettings

# Prometheus answers these with {"status": "error", "errorType", "error"} for a bad query
# (bad_data: 400; execution: 422) and for its own query timeout (503, "timeout").
_QUERY_ERRORS = (400, 422)
_MESSAGE_CHARS = 500  # of Prometheus's message in ours: it may quote the whole query


class QueryRejected(InvalidSnapshot):
    """Prometheus refused a query (a PromQL error): the message names the panel and target."""


class ByteBudget:
    """The answer bytes a capture may still read (``None``: no cap). Shared by its queries."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left: int | None = limit if limit > 0 else None
        self.read = 0

    def take(self, size: int) -> None:
        """Count ``size`` more bytes read. Raises ``PayloadTooLarge`` once past the cap."""
        self.read += size
        if self.left is not None:
            self.left -= size
            if self.left < 0:
                raise PayloadTooLarge(
                    f"Prometheus answers exceed {self.limit} bytes for this snapshot"
                    " (capture.max_response_bytes)"
                )


def auth_headers(datasource: DatasourceSettings) -> dict[str, str]:
    """The headers sent with each of ``datasource``'s queries, secrets read from their files
    now (so a rotated token is used from the next capture on). Raises ``BadGateway`` naming
    the setting whose file cannot be read."""
    headers = dict(datasource.headers)
    if datasource.bearer_token_file:
        token = _secret(datasource, "bearer_token_file", datasource.bearer_token_file)
        headers["Authorization"] = f"Bearer {token}"
    elif datasource.basic_auth_user:
        password = _secret(
            datasource, "basic_auth_password_file", datasource.basic_auth_password_file
        )
        pair = f"{datasource.basic_auth_user}:{password}".encode()
        headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
    return headers


def _secret(datasource: DatasourceSettings, key: str, path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise BadGateway(
            f"Datasource {datasource.name!r}: cannot read its {key} ({reason}); see the"
            f" server's [[capture.datasources]] settings"
        ) from None


class PrometheusClient:
    """One aiohttp session for every capture of an application (made on first use, inside the
    running loop; closed by ``aclose``). Per-request time is bounded by ``timeout`` seconds."""

    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": "snapshot-server capture"},
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def query(
        self,
        datasource: DatasourceSettings,
        headers: dict[str, str],
        planned: PlannedQuery,
        budget: ByteBudget,
    ) -> dict[str, Any]:
        """Run ``planned`` on ``datasource`` (POST form ``/api/v1/query_range``, or
        ``/api/v1/query`` at ``end_ms`` when instant) and return the answer's ``data`` member.
        Raises as the module's docstring says."""
        if planned.instant:
            path = "/api/v1/query"
            form = {"query": planned.expr, "time": _seconds(planned.end_ms)}
        else:
            path = "/api/v1/query_range"
            form = {
                "query": planned.expr,
                "start": _seconds(planned.start_ms),
                "end": _seconds(planned.end_ms),
                "step": _seconds(planned.step_ms),
            }
        where = _where(datasource)
        try:
            async with self._client().post(
                datasource.url + path,
                data=form,
                headers={"Accept": "application/json", **headers},
                allow_redirects=False,
            ) as response:
                status = response.status
                raw = await _read(response, budget)
        except TimeoutError:
            raise GatewayTimeout(f"{where} did not answer within {self.timeout:g} s") from None
        except SnapshotError:
            raise
        except (aiohttp.ClientError, ValueError, OSError) as exc:
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise BadGateway(f"{where} could not be reached: {reason}") from None
        return _data(where, planned, status, raw)


async def _read(response: aiohttp.ClientResponse, budget: ByteBudget) -> bytes:
    length, left = response.content_length, budget.left
    if length is not None and left is not None and length > left:
        budget.take(length)  # raises: the whole answer cannot fit
    data = bytearray()
    async for chunk in response.content.iter_any():
        budget.take(len(chunk))
        data += chunk
    return bytes(data)


def _data(where: str, planned: PlannedQuery, status: int, raw: bytes) -> dict[str, Any]:
    """The ``data`` of a successful answer, or the error its status and body mean."""
    if 300 <= status < 400:
        raise BadGateway(f"{where} answered a redirect (HTTP {status}), which is not followed")
    if status in (401, 403):
        raise BadGateway(f"{where} refused the credentials (HTTP {status})")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict) or body.get("status") not in ("success", "error"):
        raise BadGateway(f"{where} did not answer like a Prometheus API (HTTP {status})")
    if body["status"] == "error":
        message = " ".join(str(body.get("error", "")).split())[:_MESSAGE_CHARS]
        if body.get("errorType") == "timeout":
            raise GatewayTimeout(f"{where} timed out running the query: {message}")
        if status in _QUERY_ERRORS:
            raise QueryRejected(
                f"Panel {planned.panel_id} ({planned.panel_title!r}), query {planned.ref_id}:"
                f" Prometheus rejected it: {message}"
            )
        raise BadGateway(f"{where} failed to run a query (HTTP {status}): {message}")
    data = body.get("data")
    if status != 200 or not isinstance(data, dict) or not isinstance(data.get("result"), list):
        raise BadGateway(f"{where} did not answer like a Prometheus API (HTTP {status})")
    return data


def _where(datasource: DatasourceSettings) -> str:
    """Which datasource, for messages: its name and URL (settings forbid credentials in it)."""
    return f"Prometheus datasource {datasource.name!r} ({datasource.url})"


def _seconds(ms: int) -> str:
    """Milliseconds as the decimal seconds Prometheus reads ("1700000000", "0.5")."""
    whole, rest = divmod(ms, 1000)
    return f"{whole}.{rest:03d}".rstrip("0").rstrip(".") if rest else str(whole)
