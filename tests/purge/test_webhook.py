"""The webhook purger: exact payload, a signature a receiver can verify, a delivery id that
stays the same across retries, and retries on network errors (a closed port)."""

from __future__ import annotations

import hashlib
import hmac
import socket

import orjson
import pytest
from pytest_aiohttp import AiohttpServer

from snapshot_server.logs import secret_ref
from snapshot_server.purge.webhook import WebhookPurger, WebhookSettings
from tests.purge.helpers import Answer, RecordingSleep, ScriptedApi, base_url, dispatcher, run
from tests.support import ManualClock

SECRET = "whsec-d2ViaG9vaw"


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does, written from the documented scheme (not from our code)."""
    ts = headers["X-Snapshot-Timestamp"]
    expected = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-Snapshot-Signature"], f"sha256={expected}")


async def purger_for(
    aiohttp_server: AiohttpServer, api: ScriptedApi, clock: ManualClock
) -> WebhookPurger:
    server = await aiohttp_server(api.app())
    url = f"{base_url(server)}/hooks/snapshots?token=abc"
    return WebhookPurger("webhook[0]", WebhookSettings(url, SECRET, max_attempts=4), clock)


async def test_payload_and_signature(aiohttp_server: AiohttpServer, clock: ManualClock) -> None:
    clock.now = 1_795_321_912.0  # 2026-11-22T04:31:52Z
    api = ScriptedApi([Answer(204)])
    d = dispatcher([await purger_for(aiohttp_server, api, clock)], RecordingSleep(), clock)
    await run(d, "AbC123", reason="delete-key")
    [req] = api.seen
    assert (req.method, req.path, req.query) == ("POST", "/hooks/snapshots", "token=abc")
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["X-Snapshot-Event"] == "snapshot.deleted"
    assert req.headers["X-Snapshot-Timestamp"] == "1795321912"
    assert verify(SECRET, req.headers, req.body)
    assert not verify("another secret", req.headers, req.body)
    assert orjson.loads(req.body) == {
        "event": "snapshot.deleted",
        "key": "AbC123",
        "urls": [
            "https://snapshots.example.com/api/snapshots/AbC123",
            "https://snapshots.example.com/dashboard/snapshot/AbC123",
        ],
        "surrogate_keys": ["snapshot-AbC123"],
        "deleted_at": "2026-11-22T04:31:52Z",
        "reason": "delete-key",
    }
    assert d.stats.succeeded == 1


async def test_retry_keeps_delivery_id_and_body_and_re_signs(
    aiohttp_server: AiohttpServer, clock: ManualClock
) -> None:
    api = ScriptedApi([Answer(503, headers={"Retry-After": "5"}), Answer(408), Answer(200)])
    sleep = RecordingSleep(clock)
    d = dispatcher([await purger_for(aiohttp_server, api, clock)], sleep, clock)
    start = int(clock())
    await run(d, "k1")
    assert len(api.seen) == 3
    assert len({r.headers["X-Snapshot-Delivery"] for r in api.seen}) == 1
    assert len({r.body for r in api.seen}) == 1
    assert all(verify(SECRET, r.headers, r.body) for r in api.seen)
    stamps = [int(r.headers["X-Snapshot-Timestamp"]) for r in api.seen]
    assert stamps[:2] == [start, start + 5]  # signed afresh after the 5 s Retry-After
    assert (d.stats.succeeded, d.stats.retried) == (1, 2)


async def test_each_delivery_has_its_own_id(
    aiohttp_server: AiohttpServer, clock: ManualClock
) -> None:
    api = ScriptedApi([Answer(200)])
    d = dispatcher([await purger_for(aiohttp_server, api, clock)], RecordingSleep(), clock)
    await run(d, "k1", "k2")
    assert len({r.headers["X-Snapshot-Delivery"] for r in api.seen}) == 2


async def test_client_error_is_not_retried(
    aiohttp_server: AiohttpServer, clock: ManualClock
) -> None:
    api = ScriptedApi([Answer(400, text="bad signature"), Answer(200)])
    sleep = RecordingSleep()
    d = dispatcher([await purger_for(aiohttp_server, api, clock)], sleep, clock)
    await run(d, "k1")
    assert len(api.seen) == 1
    assert (d.stats.failed, sleep.delays) == (1, [])


async def test_closed_port_is_retried_then_logged(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as s:  # a port nobody listens on once the socket is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook?token=s3cr3t"
    purger = WebhookPurger("webhook[0]", WebhookSettings(url, SECRET, max_attempts=3))
    sleep = RecordingSleep()
    d = dispatcher([purger], sleep, clock)
    await run(d, "k1")
    assert len(sleep.delays) == 2
    assert (d.stats.failed, d.stats.retried) == (1, 2)
    failed = f"purge failed: webhook[0] snapshot {secret_ref('k1')} to http://127.0.0.1:{port}/hook"
    assert failed in caplog.text
    assert "s3cr3t" not in caplog.text
