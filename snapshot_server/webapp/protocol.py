"""The HTTP connection layer under the application: how aiohttp is set up to serve it.

Two things aiohttp decides before any middleware runs, and how they are settled here:

* **Request bodies are never inflated by aiohttp** (``auto_decompress=False``, carried by the
  application itself through ``HANDLER_ARGS``, so no runner can forget it). aiohttp's parser would
  inflate a ``Content-Encoding: gzip`` body as it arrives, on the event loop, whether or not a
  handler ever reads it: a 1 MiB body inflating to 1 GiB froze the server for seconds. The one
  route that reads a body inflates it itself, in bounded steps (``request_body``).
* **Malformed HTTP** (an over-long request line or header, a control character in the path,
  duplicate or negative Content-Length, Content-Length with Transfer-Encoding) is rejected by
  aiohttp's parser before a route exists. ``SnapshotRunner`` serves the application with a request
  handler whose ``handle_error`` answers JSON ``{"message": ...}`` naming only the kind of problem,
  never a byte of the request (request lines hold keys and deleteKeys, headers hold tokens), and
  logs one line without the request's bytes or a traceback.

* **Slow clients**: a request head must be complete within ``[limits] header_timeout`` of its
  first byte (``SnapshotRequestHandler``), idle keep-alive connections close after 75 s, and a
  body nobody reads is drained for at most 2 s.

Everything that serves the application (the CLI, the tests) goes through ``SnapshotRunner``.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import (
    BadHttpMethod,
    BadStatusLine,
    ContentLengthError,
    InvalidHeader,
    InvalidURLError,
    LineTooLong,
    TransferEncodingError,
)
from aiohttp.web_protocol import RequestHandler

from .appkeys import CONFIG
from .observing import ACCESS_LOG, HEADER, AccessLogger, assign_request_id
from .responses import NO_STORE, json_response

log = logging.getLogger(__name__)

IN_FLIGHT_SECONDS = 4.0
"""How long a shutdown lets requests in flight finish before cancelling them."""

HANDLER_ARGS: dict[str, Any] = {
    "auto_decompress": False,
    # How long a connection may keep sending a body nobody reads (after a 401, say) before it
    # is closed: long enough for a client to read its answer, short enough to cost nothing.
    "lingering_time": 2.0,
    # How long an idle keep-alive connection is kept (aiohttp's default is an hour: a public
    # server would hold every idle client's socket that long).
    "keepalive_timeout": 75.0,
}

# What a client is told (and the log says) for each kind of parser error: a fixed text, so
# nothing the client sent is ever repeated back or written to the log.
_PROTOCOL_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (LineTooLong, "request line or header too long"),
    (BadHttpMethod, "malformed request line"),
    (BadStatusLine, "malformed request line"),
    (InvalidURLError, "malformed request target"),
    (InvalidHeader, "malformed header"),
    (ContentLengthError, "malformed Content-Length"),
    (TransferEncodingError, "malformed Transfer-Encoding"),
)


def protocol_error_text(exc: BaseException | None) -> str:
    """A fixed description of a parser error (never the request's bytes)."""
    for kind, text in _PROTOCOL_ERRORS:
        if isinstance(exc, kind):
            return text
    return "malformed HTTP request"


class SnapshotRequestHandler(RequestHandler):
    """aiohttp's connection handler, with errors outside the application answered as JSON and
    a deadline on request heads: once the first bytes of a request arrive, its request line and
    headers must be complete within ``header_timeout`` seconds, or the connection is closed (a
    client trickling its headers in, one byte at a time, holds nothing for long)."""

    header_timeout = 10.0
    _head_timer: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        heads = self._request_count  # one more for every request head the parser completes
        idle = self._current_request is None and not self._messages
        super().data_received(data)
        if self._request_count != heads:
            self._cancel_head_timer()
        elif idle and data and self._head_timer is None:
            self._head_timer = self._loop.call_later(
                self.header_timeout, self._head_timed_out, heads
            )

    def _head_timed_out(self, heads: int) -> None:
        self._head_timer = None
        if self._request_count == heads and self._current_request is None:
            log.info(
                "closed a connection from %s: no complete request head within %g s",
                _peer(self.transport),
                self.header_timeout,
            )
            self.force_close()

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """Answer a request aiohttp could not hand to the application.

        ``message`` (aiohttp's text, which quotes the offending request bytes) is ignored.
        A 400 is a parser error; anything else escaped the application's own error handling.
        The connection is closed afterwards, as aiohttp does.
        """
        if request.writer.output_size > 0:
            # Part of a response is on the wire: the connection can only be dropped.
            raise ConnectionError("response already started; cannot send an error")
        if status == 400:
            text = protocol_error_text(exc)
            log.info("rejected a request from %s: %s", request.remote, text)
            message = f"Bad request: {text}"
        else:
            if exc is not None:
                log.error("error outside the application: %s", type(exc).__name__, exc_info=exc)
            message = HTTPStatus(status).phrase
        response = json_response({"message": message}, status=status, cache_control=NO_STORE)
        response.headers[HEADER] = assign_request_id(request)
        response.force_close()
        return response


class SnapshotServer(web.Server):
    """``web.Server`` whose connections are handled by ``SnapshotRequestHandler``."""

    def __init__(self, server: web.Server, *, header_timeout: float) -> None:
        self.header_timeout = header_timeout
        super().__init__(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            **server._kwargs,
        )

    def __call__(self) -> SnapshotRequestHandler:
        handler = SnapshotRequestHandler(self, loop=self._loop, **self._kwargs)
        handler.header_timeout = self.header_timeout
        return handler


class SnapshotRunner(web.AppRunner):
    """``web.AppRunner`` that serves the application through ``SnapshotServer``, writing one
    access-log line per response (``observing.AccessLogger``) unless given ``access_log=None``.

    Its ``cleanup`` is the graceful shutdown: stop accepting, cut short the uploads still
    arriving (``app.on_shutdown``), give requests in flight ``IN_FLIGHT_SECONDS`` to finish
    (then cancel them: aiohttp waits as long again at most for the cancellation), then the
    application's own cleanup (pending purges flushed within their bound, storage closed).
    """

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        kwargs.setdefault("access_log", ACCESS_LOG)
        kwargs.setdefault("access_log_class", AccessLogger)
        kwargs.setdefault("shutdown_timeout", IN_FLIGHT_SECONDS)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> web.Server:
        header_timeout = self.app[CONFIG].limits.header_timeout
        return SnapshotServer(await super()._make_server(), header_timeout=header_timeout)


def _peer(transport: asyncio.BaseTransport | None) -> str:
    peer = transport.get_extra_info("peername") if transport is not None else None
    return str(peer[0]) if isinstance(peer, tuple) else "an unknown address"
