"""Requests aiohttp's parser refuses before any route runs: answered JSON, echoing nothing of
the request, and logged as one line without the request's bytes."""

from __future__ import annotations

import logging

import orjson
import pytest

from tests.api.conftest import Client
from tests.api.raw_http import exchange

SECRET = "Zq8PaintedSecretKeyXw3"  # stands for a key, a deleteKey or a token

MALFORMED = {
    "request line too long": (
        f"GET /api/snapshots-delete/{SECRET}{'A' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n"
    ),
    "control character in the path": (
        f"GET /api/snapshots/{SECRET}\x01 HTTP/1.1\r\nHost: x\r\n\r\n"
    ),
    "header too long": (
        f"GET /api/dashboard/snapshots HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {SECRET}{'T' * 9000}\r\n\r\n"
    ),
    "duplicate Content-Length": (
        f"POST /api/snapshots/{SECRET} HTTP/1.1\r\nHost: x\r\n"
        "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}"
    ),
    "negative Content-Length": (
        f"POST /api/snapshots/{SECRET} HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{{}}"
    ),
    "Content-Length with Transfer-Encoding": (
        f"POST /api/snapshots/{SECRET} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "not HTTP at all": f"{SECRET} \x16\x03\x01\r\n\r\n",
}


@pytest.mark.parametrize("case", MALFORMED)
async def test_malformed_request_is_json_400_and_one_clean_log_line(
    client: Client, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await exchange(client, MALFORMED[case].encode("latin-1"))
    assert response.status == 400
    assert response.header("Content-Type") == "application/json"
    message = orjson.loads(response.body)["message"]
    assert message.startswith("Bad request: ")
    assert SECRET not in response.head + response.body.decode()
    assert "AAAA" not in response.body.decode()
    assert "TTTT" not in response.body.decode()
    # Besides the access log's line (its own test), which holds no byte of the request either.
    records = [
        r
        for r in caplog.records
        if r.levelno >= logging.INFO and r.name != "snapshot_server.access"
    ]
    assert len(records) == 1, caplog.text
    (record,) = records
    assert record.exc_info is None
    assert "\n" not in record.getMessage()
    assert SECRET not in caplog.text
    assert message.removeprefix("Bad request: ") in record.getMessage()
