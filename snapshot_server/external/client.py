"""The HTTP client that talks to external snapshot servers, and its safety rules.

* Every request is bounded by ``snapshots.external_timeout`` (connect, send and answer in all).
* No redirect is followed: a 3xx is a failure. The URLs we call come from config or from a
  remote's answer, and a redirect could send the request (and on create, the token) anywhere.
* An answer is read up to ``MAX_ANSWER_BYTES`` and no further (after decompression).
* No cookie is kept: what a remote sets for one request is never sent with another.
* The token is sent only with the create request to ``external_snapshot_url``, never to a
  ``deleteUrl`` a remote chose (the deleteKey in it is the capability, as Grafana does).

Every failure is a ``BadGateway`` whose message names the server and what to check. The aiohttp
session is made on first use (inside the running loop) and closed by ``aclose``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

from ..errors import BadGateway
from .answers import BadAnswer, Published, is_deleted, parse_created

MAX_ANSWER_BYTES = 64 * 1024  # a create or delete answer is a few hundred bytes


class RemoteClient:
    def __init__(self, *, timeout: float, token: str = "") -> None:
        self.timeout = timeout
        self.token = token
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                trust_env=False,  # only the configured address, never a proxy from the env
                # One client serves every user: a cookie a remote sets on one answer must not
                # ride along on the next user's request, nor pile up here.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def create(self, url: str, body: bytes) -> Published:
        """POST ``body`` (JSON) to ``url`` and return the checked answer. Raises ``BadGateway``."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        status, raw = await self._call("POST", url, headers, body, doing="create the snapshot")
        if status != 200:
            raise _refused(url, status, "create the snapshot")
        try:
            return parse_created(raw)
        except BadAnswer as exc:
            raise BadGateway(f"{_origin(url)} did not create the snapshot: {exc}") from None

    async def delete(self, delete_url: str) -> None:
        """GET ``delete_url``; return if the remote deleted it (or no longer has it, by
        Grafana's rule). Raises ``BadGateway`` otherwise."""
        status, raw = await self._call("GET", delete_url, {}, None, doing="delete the snapshot")
        if not is_deleted(status, raw):
            raise _refused(delete_url, status, "delete the snapshot")

    async def _call(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, *, doing: str
    ) -> tuple[int, bytes]:
        origin = _origin(url)
        try:
            async with self._client().request(
                method, url, data=body, headers=headers, allow_redirects=False
            ) as response:
                return response.status, await _read_bounded(response)
        except TimeoutError:
            raise BadGateway(
                f"{origin} did not answer within {self.timeout:g} s when asked to {doing}"
                " (snapshots.external_timeout)"
            ) from None
        except AnswerTooLarge:
            raise BadGateway(
                f"{origin} answered more than {MAX_ANSWER_BYTES} bytes when asked to {doing}"
            ) from None
        except (aiohttp.ClientError, ValueError) as exc:
            reason = _reason(exc, url)
            raise BadGateway(f"{origin} could not be reached to {doing}: {reason}") from None


class AnswerTooLarge(Exception):
    """An answer longer than ``MAX_ANSWER_BYTES``: not read any further."""


async def _read_bounded(response: aiohttp.ClientResponse) -> bytes:
    if response.content_length is not None and response.content_length > MAX_ANSWER_BYTES:
        raise AnswerTooLarge()
    data = bytearray()
    async for chunk in response.content.iter_any():
        data += chunk
        if len(data) > MAX_ANSWER_BYTES:
            raise AnswerTooLarge()
    return bytes(data)


def _reason(exc: Exception, url: str) -> str:
    """What went wrong, without ``url``: aiohttp puts the URL in some errors' text (a malformed
    answer's, an invalid URL's), and a deleteUrl's path holds the remote deleteKey, which must
    not reach a 502 message or the log. One line, bounded in length."""
    text = exc.message if isinstance(exc, aiohttp.ClientResponseError) else str(exc)
    path = urlsplit(url).path if len(url) < 4096 else url
    for part in (url, path):
        if part and part != "/":
            text = text.replace(part, "…")
    text = " ".join(text.split())[:200]  # one line: part of it is the remote's own bytes
    return text or type(exc).__name__


def _refused(url: str, status: int, doing: str) -> BadGateway:
    """The error for a non-success ``status``; on create, it names the setting to check."""
    message = f"{_origin(url)} failed to {doing} (HTTP {status})"
    if not doing.startswith("create"):
        return BadGateway(message)
    if status in (401, 403):
        return BadGateway(f"{message}: check snapshots.external_snapshot_token")
    if 300 <= status < 400:
        return BadGateway(
            f"{message}: it answered a redirect, which is not followed; check"
            " snapshots.external_snapshot_url"
        )
    return BadGateway(message)


def _origin(url: str) -> str:
    """``External snapshot server http://host:port``: which server, without path or secrets."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "External snapshot server"
    host = f"[{host}]" if ":" in host else host
    return f"External snapshot server {parts.scheme}://{host}{port}"
