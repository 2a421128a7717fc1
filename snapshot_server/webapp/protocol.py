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

Everything that serves the application (the CLI, the tests) goes through ``SnapshotRunner``.
"""

from __future__ import annotations

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

from .responses import NO_STORE, json_response

log = logging.getLogger(__name__)

HANDLER_ARGS: dict[str, Any] = {
    "auto_decompress": False,
    # How long a connection may keep sending a body nobody reads (after a 401, say) before it
    # is closed: long enough for a client to read its answer, short enough to cost nothing.
    "lingering_time": 2.0,
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
    """aiohttp's connection handler, with errors outside the application answered as JSON."""

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
        response.force_close()
        return response


class SnapshotServer(web.Server):
    """``web.Server`` whose connections are handled by ``SnapshotRequestHandler``."""

    def __init__(self, server: web.Server) -> None:
        super().__init__(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            **server._kwargs,
        )

    def __call__(self) -> SnapshotRequestHandler:
        return SnapshotRequestHandler(self, loop=self._loop, **self._kwargs)


class SnapshotRunner(web.AppRunner):
    """``web.AppRunner`` that serves the application through ``SnapshotServer``."""

    async def _make_server(self) -> web.Server:
        return SnapshotServer(await super()._make_server())
