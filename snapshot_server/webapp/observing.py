"""Request ids and the access log: what lets an operator follow one request through the logs.

Every request gets an id: the client's ``X-Request-Id`` when it is a safe, short token (1 to
``MAX_REQUEST_ID`` characters of letters, digits and ``. _ : + = @ / -``), else a new random
one. It is sent back in ``X-Request-Id`` on every response (errors too, including the ones
aiohttp's parser answers before the application runs), and carried by every log line written
while the request is handled (``logs.REQUEST_ID``).

``AccessLogger`` writes one line per answered request, to the ``snapshot_server.access`` logger:
id, method, route template, status, duration and bytes sent. Never the path (it holds keys and
deleteKeys), the query, a header or a body.
"""

from __future__ import annotations

import logging
import random
import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler

from ..logs import FIELDS_ATTRIBUTE, REQUEST_ID
from .appkeys import REQUEST_ID_KEY
from .requests import UNMATCHED, route_template

HEADER = "X-Request-Id"
MAX_REQUEST_ID = 128
_SAFE_ID = re.compile(r"[A-Za-z0-9._:+=@/-]{1,%d}" % MAX_REQUEST_ID)  # noqa: UP031 (a regex)
_METHOD = re.compile(r"[A-Z]{1,20}")
ACCESS_LOG = logging.getLogger("snapshot_server.access")


def request_id_for(sent: str | None) -> str:
    """The id of a request whose ``X-Request-Id`` header was ``sent`` (``None``: absent)."""
    if sent is not None and _SAFE_ID.fullmatch(sent):
        return sent
    # An id only tells lines apart: it needs no secrecy, and this costs no system call.
    return f"{random.getrandbits(128):032x}"


def assign_request_id(request: web.BaseRequest) -> str:
    """Give ``request`` its id (once) and return it."""
    request_id = request.get(REQUEST_ID_KEY)
    if request_id is None:
        request_id = request[REQUEST_ID_KEY] = request_id_for(request.headers.get(HEADER))
    return request_id


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: the id is known to every log line of the request, the error middleware's
    too."""
    token = REQUEST_ID.set(assign_request_id(request))
    try:
        return await handler(request)
    finally:
        REQUEST_ID.reset(token)


async def send_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """``app.on_response_prepare``: every response the application sends names its request."""
    response.headers[HEADER] = assign_request_id(request)


def _route(request: web.BaseRequest) -> str:
    """The route template, or ``unmatched`` for a request no route was matched to (one aiohttp's
    parser refused never reaches the router)."""
    if isinstance(request, web.Request) and request._match_info is not None:
        return route_template(request)
    return UNMATCHED


class AccessLogger(AbstractAccessLogger):
    """One line per response sent (see the module docstring)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        request_id = assign_request_id(request)
        route = _route(request)
        # A request line aiohttp refused may hold anything where its method goes.
        method = request.method if _METHOD.fullmatch(request.method) else "-"
        milliseconds = round(time * 1000, 3)
        fields = {
            "method": method,
            "route": route,
            "status": response.status,
            "duration_ms": milliseconds,
            "bytes": response.body_length,
        }
        # The record is made directly: the logger would also look up the caller's source file
        # and line, a good part of the cost of a line written for every request.
        record = self.logger.makeRecord(
            self.logger.name, logging.INFO, "", 0, "%s %s %d %.1fms %dB",
            (method, route, response.status, milliseconds, response.body_length), None,
            extra={FIELDS_ATTRIBUTE: fields, "request_id": request_id},
        )  # fmt: skip
        self.logger.handle(record)

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
