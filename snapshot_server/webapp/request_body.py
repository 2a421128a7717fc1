"""Reading a request body: only once the caller may send one, never more than the limit.

``read_body`` is the one way the application reads a body. It is called only after the caller
has been authenticated and authorised, and it is what answers ``Expect: 100-continue``: aiohttp
would otherwise send ``100 Continue`` to anyone before any handler runs, inviting an upload the
caller may not make (see ``routes.defer_continue``).

``Content-Encoding: gzip`` and ``deflate`` bodies are inflated here, in steps of at most
``STEP_BYTES`` of output, with the limit applied to the *inflated* size: a small body that
inflates to gigabytes is refused once it passes ``max_bytes``, having cost no more than that.
(aiohttp's own inflation is switched off: ``protocol.HANDLER_ARGS``.)
"""

from __future__ import annotations

import asyncio
import zlib

from aiohttp import web

from ..errors import InvalidSnapshot, PayloadTooLarge, RequestTimeout, UnsupportedEncoding

STEP_BYTES = 256 * 1024  # the most one inflate step produces before the loop may run others
READ_BYTES = 64 * 1024
SUPPORTED_ENCODINGS = ("gzip", "deflate", "identity")
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"Request body too large: the limit is {max_bytes} bytes")


async def read_body(request: web.Request, max_bytes: int, *, within: float) -> bytes:
    """The request body, inflated. Call only once the caller is allowed to send it.

    Raises ``PayloadTooLarge`` as soon as the body (raw or inflated) passes ``max_bytes`` (before
    reading when Content-Length says so), ``RequestTimeout`` (408) when it has not all arrived
    ``within`` seconds, ``UnsupportedEncoding`` (415) for a Content-Encoding other than
    gzip, deflate or identity, and ``InvalidSnapshot`` for a body that is not what its
    Content-Encoding claims.
    """
    inflater = _inflater(request.headers.get("Content-Encoding", ""))
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large(max_bytes)
    try:
        async with asyncio.timeout(within):
            await _send_continue(request)
            return await _read(request, inflater, max_bytes)
    except TimeoutError:
        # The rest of the body is never read: the connection closes after the answer.
        raise RequestTimeout(
            f"Request body took too long to arrive: the limit is {within:g} seconds"
        ) from None


def reservation(request: web.Request, max_bytes: int) -> int:
    """The most memory ``request``'s body can take once read: its Content-Length when sent as
    is, else (chunked, or compressed: bounded only once inflated) ``max_bytes``."""
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if request.content_length is not None and encoding in ("", "identity"):
        return min(request.content_length, max_bytes)
    return max_bytes


async def _read(request: web.Request, inflater: zlib._Decompress | None, max_bytes: int) -> bytes:
    parts: list[bytes] = []
    raw_size = size = 0
    while chunk := await request.content.read(READ_BYTES):
        raw_size += len(chunk)
        if raw_size > max_bytes:
            raise _too_large(max_bytes)
        if inflater is None:
            parts.append(chunk)
            size += len(chunk)
            continue
        pending = chunk
        while pending:
            try:
                out = inflater.decompress(pending, STEP_BYTES)
            except zlib.error as exc:
                raise _not_encoded(request) from exc
            pending = inflater.unconsumed_tail
            size += len(out)
            if size > max_bytes:
                raise _too_large(max_bytes)
            parts.append(out)
            if pending:
                await asyncio.sleep(0)  # a long run of output: let other requests in
    if inflater is not None and not inflater.eof:
        raise _not_encoded(request)
    return b"".join(parts)


def _inflater(header: str) -> zlib._Decompress | None:
    """A decompressor for the Content-Encoding header value, ``None`` for identity/absent."""
    encoding = header.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        # RFC 9110's "deflate" is zlib-wrapped; 32 + MAX_WBITS also accepts a gzip header.
        return zlib.decompressobj(wbits=32 + zlib.MAX_WBITS)
    raise UnsupportedEncoding(
        "Unsupported Content-Encoding: send the body as gzip, deflate or uncompressed"
    )


def _not_encoded(request: web.Request) -> InvalidSnapshot:
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    return InvalidSnapshot(f"Request body is not valid {encoding} data")


async def _send_continue(request: web.Request) -> None:
    """Answer ``Expect: 100-continue`` now that the body is wanted (HTTP/1.1 only)."""
    if request.version >= (1, 1) and request.headers.get("Expect", "").lower() == "100-continue":
        await request.writer.write(_CONTINUE)
