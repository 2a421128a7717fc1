"""X-Request-Id through the real application: honoured when safe, replaced when not, generated
when absent, returned on every response, and one access-log line per request that names the
route template (never the path's keys)."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from aiohttp import web

from backends import open_store
from snapshot_server.config import StorageConfig
from snapshot_server.logs import RequestIdFilter, formatter
from snapshot_server.webapp.app import create_app
from tests.api.conftest import Client, api_config, auth, create
from tests.api.raw_http import exchange
from tests.support import ClientFactory, ManualClock, serve

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
async def client(aiohttp_client: ClientFactory) -> Client:
    app: web.Application = create_app(
        api_config(StorageConfig("memory")), open_store, clock=ManualClock()
    )
    return await serve(aiohttp_client, app)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Every record of the ``snapshot_server`` loggers, as the server writes them in JSON."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("json"))
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("snapshot_server")
    previous = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def entries(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_a_safe_sent_id_is_returned_and_logged(client: Client, json_log: io.StringIO) -> None:
    made = await create(client)
    sent = "7f3a-b2c1:retry.2/edge@proxy+1="
    response = await client.delete(
        f"/api/snapshots/{made['key']}", headers={**auth("editor"), "X-Request-Id": sent}
    )
    assert response.status == 200
    assert response.headers["X-Request-Id"] == sent
    lines = [e for e in entries(json_log) if e.get("request_id") == sent]
    # The service's own line and the access line, both carrying the id.
    assert [e["logger"] for e in lines] == ["snapshot_server.service", "snapshot_server.access"]
    access = lines[-1]
    assert access["method"] == "DELETE"
    assert access["route"] == "/api/snapshots/{key}"
    assert access["status"] == 200
    assert isinstance(access["duration_ms"], float)
    assert access["duration_ms"] >= 0
    assert isinstance(access["bytes"], int)
    assert access["bytes"] > 0
    assert made["key"] not in json_log.getvalue()
    assert made["deleteKey"] not in json_log.getvalue()


@pytest.mark.parametrize(
    "sent",
    ["", "has space", "x" * 129, "ünicode", 'quote"d', "tab\there", "semi;colon", "new%0Aline"],
)
async def test_an_unsafe_id_is_replaced(client: Client, sent: str) -> None:
    response = await client.get("/api/health", headers={"X-Request-Id": sent})
    assert response.status == 200
    returned = response.headers["X-Request-Id"]
    assert returned != sent
    assert GENERATED.fullmatch(returned)


async def test_the_longest_safe_id_is_kept(client: Client) -> None:
    sent = "a" * 128
    response = await client.get("/api/health", headers={"X-Request-Id": sent})
    assert response.headers["X-Request-Id"] == sent


async def test_an_absent_id_is_generated_afresh_for_each_request(client: Client) -> None:
    ids = set()
    for _ in range(5):
        response = await client.get("/api/health")
        ids.add(response.headers["X-Request-Id"])
    assert len(ids) == 5
    assert all(GENERATED.fullmatch(i) for i in ids)


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/api/dashboard/snapshots", {"Authorization": "Bearer wrong"}, 401),
        ("GET", "/api/snapshots/nosuchkey", {}, 404),
        ("GET", "/no/such/page", {}, 404),
        ("PUT", "/api/snapshots", {}, 405),
        ("POST", "/api/snapshots", {**auth("editor"), "Content-Type": "application/json"}, 400),
        ("GET", "/metrics", {}, 200),
        ("GET", "/dashboard/snapshot/nosuchkey", {}, 404),
    ],
)
async def test_every_answer_carries_the_id(
    client: Client, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    response = await client.request(
        method, path, headers={**headers, "X-Request-Id": "rid-1"}, data=b"not json"
    )
    assert response.status == status
    assert response.headers["X-Request-Id"] == "rid-1"


async def test_a_request_the_parser_refuses_gets_an_id_and_an_access_line(
    client: Client, json_log: io.StringIO
) -> None:
    secret = "Zq8PaintedSecretKeyXw3"
    raw = f"GET /api/snapshots-delete/{secret}\x01 HTTP/1.1\r\nHost: x\r\n\r\n"
    response = await exchange(client, raw.encode("latin-1"))
    assert response.status == 400
    returned = response.header("X-Request-Id")
    assert returned is not None
    assert GENERATED.fullmatch(returned)
    (access,) = [e for e in entries(json_log) if e["logger"] == "snapshot_server.access"]
    assert (access["route"], access["status"], access["request_id"]) == ("unmatched", 400, returned)
    assert secret not in json_log.getvalue()


async def test_one_access_line_per_request_names_templates_not_keys(
    client: Client, json_log: io.StringIO
) -> None:
    made = await create(client)
    await client.get(f"/api/snapshots/{made['key']}")
    await client.get(f"/api/snapshots-delete/{made['deleteKey']}")
    await client.get(f"/api/snapshots/{made['key']}?token=hunter2")
    access = [e for e in entries(json_log) if e["logger"] == "snapshot_server.access"]
    assert [(e["method"], e["route"], e["status"]) for e in access] == [
        ("POST", "/api/snapshots", 200),
        ("GET", "/api/snapshots/{key}", 200),
        ("GET", "/api/snapshots-delete/{delete_key}", 200),
        ("GET", "/api/snapshots/{key}", 404),
    ]
    assert len({e["request_id"] for e in access}) == 4
    text = json_log.getvalue()
    for secret in (made["key"], made["deleteKey"], "hunter2", "editor-token"):
        assert secret not in text
