"""The two log formats: text keeps its old layout, JSON is one object a line; both carry the
request id of the request a line was written in."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
from collections.abc import Iterator

import pytest

from snapshot_server.cli import _apply_overrides, build_parser
from snapshot_server.config import parse_config
from snapshot_server.errors import ConfigError
from snapshot_server.logs import (
    FIELDS_ATTRIBUTE,
    REQUEST_ID,
    RequestIdFilter,
    formatter,
    hide_secrets,
    secret_ref,
)

TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (\w+) ([\w.]+) (.*)$")


Output = tuple[logging.Logger, io.StringIO, "logging.StreamHandler[io.StringIO]"]


@pytest.fixture
def output() -> Iterator[Output]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("tests.ops.logs")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield logger, stream, handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_text_lines_outside_a_request_keep_the_old_layout(output: Output) -> None:
    logger, stream, handler = output
    handler.setFormatter(formatter("text"))
    logger.warning("no [[auth.tokens]] configured: %s", "nobody can create snapshots")
    old = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    record = logging.LogRecord("tests.ops.logs", logging.WARNING, "", 0, "m", None, None)
    line = stream.getvalue().rstrip("\n")
    assert "\n" not in line
    match = TEXT_LINE.match(line)
    assert match is not None, line
    assert match.groups() == (
        "WARNING",
        "tests.ops.logs",
        "no [[auth.tokens]] configured: nobody can create snapshots",
    )
    assert TEXT_LINE.match(old.format(record))  # the layout the server always had


def test_text_lines_in_a_request_end_with_its_id(output: Output) -> None:
    logger, stream, handler = output
    handler.setFormatter(formatter("text"))
    token = REQUEST_ID.set("req-42")
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("snapshot deleted id=%d", 7)
    finally:
        REQUEST_ID.reset(token)
    first, *traceback = stream.getvalue().splitlines()
    assert first.endswith(" ERROR tests.ops.logs snapshot deleted id=7 request_id=req-42")
    assert traceback[0] == "Traceback (most recent call last):"
    assert traceback[-1] == "ValueError: boom"


def test_json_lines_are_one_object_each_with_the_request_id_and_fields(output: Output) -> None:
    logger, stream, handler = output
    handler.setFormatter(formatter("json"))
    logger.info("outside")
    token = REQUEST_ID.set("abc")
    try:
        logger.info("access", extra={FIELDS_ATTRIBUTE: {"status": 200, "route": "/api/x"}})
        try:
            raise KeyError("k")
        except KeyError:
            logger.exception('failed "quoted"\nsecond line')
    finally:
        REQUEST_ID.reset(token)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3  # a traceback stays inside its line
    outside, access, failed = (json.loads(line) for line in lines)
    assert set(outside) == {"time", "level", "logger", "message", "pid"}
    assert outside["pid"] == os.getpid()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", outside["time"])
    assert (outside["level"], outside["logger"], outside["message"]) == (
        "INFO",
        "tests.ops.logs",
        "outside",
    )
    assert access["request_id"] == "abc"
    assert (access["status"], access["route"]) == (200, "/api/x")
    assert failed["level"] == "ERROR"
    assert failed["message"] == 'failed "quoted"\nsecond line'
    assert failed["exception"].endswith("KeyError: 'k'")
    assert failed["request_id"] == "abc"


def test_log_format_is_text_or_json() -> None:
    assert parse_config({}).server.log_format == "text"
    assert parse_config({"server": {"log_format": "json"}}).server.log_format == "json"
    with pytest.raises(ConfigError, match=r"^server\.log_format: must be one of text, json$"):
        parse_config({"server": {"log_format": "xml"}})


def test_the_log_format_option_overrides_the_file() -> None:
    parser = build_parser()
    config = parse_config({"server": {"log_format": "text"}})
    json_args = parser.parse_args(["serve", "--log-format", "json"])
    assert _apply_overrides(config, json_args).server.log_format == "json"
    unset = parser.parse_args(["serve"])
    assert _apply_overrides(config, unset).server.log_format == "text"
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--log-format", "xml"])


def test_a_key_in_a_log_line_is_replaced_by_a_stable_reference() -> None:
    key = "mrPFYkYygQTgfrT9el3aMPVkpfAE12Ch"
    ref = secret_ref(key)
    assert ref == "ref:" + hashlib.sha256(key.encode()).hexdigest()[:12]
    assert secret_ref(key) == ref  # the same key, the same reference: lines can be matched
    text = f"https://cdn.example/api/snapshots/{key} and /dashboard/snapshot/{key}"
    hidden = hide_secrets(text, [key, ""])
    assert key not in hidden
    assert hidden == f"https://cdn.example/api/snapshots/{ref} and /dashboard/snapshot/{ref}"
