"""How the server logs: ``[server] log_format = "text"`` (one line of words) or ``"json"`` (one
JSON object a line), for every line the process writes through ``logging``, its own and its
libraries' alike.

A line written while a request is handled carries that request's id (``request_id``), the one
sent back in its ``X-Request-Id`` header, so an operator can find every line of one request.
The id lives in a context variable set by ``webapp.observing`` for the request's task;
``RequestIdFilter`` copies it onto each record as it is handled.

Text lines keep the layout the server has always had (``TIME LEVEL LOGGER MESSAGE``); within a
request they end with `` request_id=ID``. JSON lines hold ``time`` (UTC, RFC 3339),
``level``, ``logger``, ``message``, ``pid``, ``request_id`` when there is one, the fields a
line adds itself (the access log's ``method``, ``route``, ``status``, ``duration_ms``,
``bytes``), and ``exception`` (the traceback) when one is logged.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import time
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

import orjson

LOG_FORMATS = ("text", "json")
TEXT_LAYOUT = "%(asctime)s %(levelname)s %(name)s %(message)s"

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
"""The id of the request being handled in this task, ``None`` outside any request."""

FIELDS_ATTRIBUTE = "fields"
"""``log.info(..., extra={FIELDS_ATTRIBUTE: {...}})`` adds those fields to a JSON line."""


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request it was written in (``request_id``,
    ``None`` outside one), when it is handled: in the task that logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


def _request_id(record: logging.LogRecord) -> str | None:
    request_id = getattr(record, "request_id", None)
    return request_id if isinstance(request_id, str) else None


class TextFormatter(logging.Formatter):
    """The classic layout, with `` request_id=ID`` at the end of lines written in a request."""

    def __init__(self) -> None:
        super().__init__(TEXT_LAYOUT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = _request_id(record)
        if request_id is None:
            return line
        first, newline, rest = line.partition("\n")  # after the message, not the traceback
        return f"{first} request_id={request_id}{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a traceback is a field, its newlines escaped)."""

    def __init__(self) -> None:
        super().__init__()
        self._pid = os.getpid()  # made in the process that logs (workers are spawned)
        self._second = -1
        self._second_text = ""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": self._pid,  # which worker, with serve --workers N
        }
        request_id = _request_id(record)
        if request_id is not None:
            entry["request_id"] = request_id
        fields = getattr(record, FIELDS_ATTRIBUTE, None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()

    def _time(self, created: float) -> str:
        """RFC 3339 in UTC, to the millisecond (the seconds formatted once per second)."""
        second = int(created)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{int(created % 1 * 1000):03d}Z"


def secret_ref(secret: str) -> str:
    """How a log line names a key without holding it: ``ref:`` and the first 12 hex digits of
    its SHA-256 (``printf %s KEY | sha256sum | cut -c1-12`` finds the lines of a key you
    have; the lines do not give the key to whoever reads them)."""
    return "ref:" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def hide_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` replaced by its ``secret_ref``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, secret_ref(secret))
    return text


def formatter(log_format: str) -> logging.Formatter:
    """The formatter for ``log_format`` (one of ``LOG_FORMATS``)."""
    if log_format == "json":
        return JsonFormatter()
    if log_format == "text":
        return TextFormatter()
    raise ValueError(f"unknown log format {log_format!r}")


def setup_logging(log_format: str = "text") -> None:
    """Send every INFO and above record to stderr in ``log_format``, replacing whatever
    handlers the root logger had (the server sets this up again once its config is read)."""
    # Nothing here reads a record's thread or process fields: not filling them saves time on
    # every line (the access log writes one per request).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(RequestIdFilter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
