"""Rate limits on creates: off by default in private mode, on in public mode, per token for
token holders and per client address for anonymous creates, refused before the body is read,
with a 429 that names the limit and says when to come back."""

from __future__ import annotations

import re

import orjson
import pytest
from aiohttp import ClientResponse

from snapshot_server.webapp.appkeys import RATE_LIMITS
from tests.abuse.conftest import MakeApp, MakeConfigured
from tests.api.conftest import Client, auth
from tests.api.raw_http import exchange
from tests.support import ManualClock

MIB = 1 << 20
BODY = {"dashboard": {"title": "t", "panels": []}}


async def post(client: Client, user: str | None = None, **headers: str) -> ClientResponse:
    if user is not None:
        headers.update(auth(user))
    return await client.post("/api/snapshots", json=BODY, headers=headers)


async def allowed_then_limited(
    client: Client, allowed: int, message: str, window: int, user: str | None = None
) -> None:
    """``allowed`` creates by ``user`` go through, and the next one is refused."""
    for _ in range(allowed):
        assert (await post(client, user)).status == 200
    await assert_limited(await post(client, user), message, window)


async def assert_limited(response: ClientResponse, message: str, window: int) -> None:
    """A 429 JSON answer naming the limit, never cached, with a sane Retry-After."""
    assert response.status == 429, await response.text()
    assert response.content_type == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert (await response.json()) == {"message": message}
    retry_after = response.headers["Retry-After"]
    assert re.fullmatch(r"[0-9]+", retry_after)
    assert 1 <= int(retry_after) <= window


async def test_limits_are_off_by_default_in_private_mode(make_configured: MakeConfigured) -> None:
    """A private deployment sees no 429 however much it creates or misses: no limiter is
    even made."""
    client = await make_configured({})
    assert client.app[RATE_LIMITS] is None
    for _ in range(65):  # past the default 60/minute per token
        assert (await post(client, "editor")).status == 200
    for _ in range(35):  # past the default 30/minute of unknown keys
        assert (await client.get("/api/snapshots/nope")).status == 404


async def test_limits_are_on_by_default_in_public_mode(make_configured: MakeConfigured) -> None:
    """public_mode alone turns the limits on, at their defaults."""
    client = await make_configured({"snapshots": {"public_mode": True}})
    message = "Too many snapshots created: the limit is 30 per 1 minute from one address"
    await allowed_then_limited(client, 30, message, 60)


async def test_limits_can_be_turned_off_in_public_mode(make_configured: MakeConfigured) -> None:
    client = await make_configured(
        {"snapshots": {"public_mode": True}, "limits": {"enabled": False}}
    )
    assert client.app[RATE_LIMITS] is None
    for _ in range(35):
        assert (await post(client)).status == 200


async def test_a_private_deployment_can_opt_in(make_configured: MakeConfigured) -> None:
    client = await make_configured({"limits": {"enabled": True, "creates_per_token": "1/day"}})
    message = "Too many snapshots created: the limit is 1 per 1 day for one token"
    await allowed_then_limited(client, 1, message, 86400, "editor")


async def test_token_creates_count_per_token(make_app: MakeApp) -> None:
    client = await make_app(creates_per_token="3/hour", creates_per_address="1/hour")
    message = "Too many snapshots created: the limit is 3 per 1 hour for one token"
    await allowed_then_limited(client, 3, message, 3600, "editor")
    # Another token from the same address has its own count, untouched by the address limit.
    await allowed_then_limited(client, 3, message, 3600, "editor2")


async def test_anonymous_creates_count_per_address(make_app: MakeApp) -> None:
    client = await make_app(public_mode=True, creates_per_address="2/hour")
    message = "Too many snapshots created: the limit is 2 per 1 hour from one address"
    await allowed_then_limited(client, 2, message, 3600)
    # A token's creates are counted per token, not per address.
    assert (await post(client, "editor")).status == 200


async def test_every_rate_of_a_setting_applies(make_app: MakeApp) -> None:
    client = await make_app(creates_per_token="5/hour;2/minute")
    message = "Too many snapshots created: the limit is 2 per 1 minute for one token"
    await allowed_then_limited(client, 2, message, 60, "editor")


async def test_the_window_moves(make_app: MakeApp, window_clock: ManualClock) -> None:
    """A moving window: each create stays in it for a window's length, so Retry-After is the
    wait for the oldest one to leave, and after that wait one more create is allowed."""
    client = await make_app(creates_per_token="2/minute")
    assert (await post(client, "editor")).status == 200
    window_clock.advance(20)
    assert (await post(client, "editor")).status == 200
    window_clock.advance(10)
    refused = await post(client, "editor")
    assert refused.status == 429
    # The first create leaves the window at 60 s, still in it at that very instant.
    assert refused.headers["Retry-After"] == "31"
    window_clock.advance(30)
    assert (await post(client, "editor")).status == 429
    window_clock.advance(1)
    assert (await post(client, "editor")).status == 200
    assert (await post(client, "editor")).status == 429
    window_clock.advance(20)  # the second create has left the window too
    assert (await post(client, "editor")).status == 200


@pytest.mark.parametrize("expect", [True, False], ids=["expect-100-continue", "body-sent"])
async def test_a_limited_caller_is_answered_before_any_body(
    make_app: MakeApp, expect: bool
) -> None:
    client = await make_app(creates_per_token="1/hour")
    assert (await post(client, "editor")).status == 200
    token = auth("editor")["Authorization"]
    head = f"POST /api/snapshots HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n"
    head += f"Content-Length: {60 * MIB}\r\n"
    # With Expect, no "100 Continue" may come first: a limited caller is not invited to
    # upload. Without, 1 MiB of the announced 60: an answer means nothing waited for the rest.
    rest = "Expect: 100-continue\r\n\r\n" if expect else "\r\n{" + " " * MIB
    response = await exchange(client, (head + rest).encode())
    assert response.status == 429
    assert orjson.loads(response.body)["message"].startswith("Too many snapshots created")
    assert response.header("Retry-After") is not None


async def test_who_may_not_create_is_refused_before_being_counted(make_app: MakeApp) -> None:
    """401 and 403 come first and use up nothing."""
    client = await make_app(creates_per_token="1/hour", creates_per_address="1/hour")
    for _ in range(3):
        assert (await post(client)).status == 401  # not public: anonymous may not create
        assert (await post(client, "viewer")).status == 403
    assert (await post(client, "editor")).status == 200


async def test_refusals_are_counted_in_metrics(make_app: MakeApp) -> None:
    client = await make_app(public_mode=True, creates_per_address="1/hour")
    assert (await post(client)).status == 200
    for _ in range(3):
        assert (await post(client)).status == 429
    metrics = await (await client.get("/metrics")).text()
    assert 'snapshot_limited_total{limit="creates_per_address"} 3.0' in metrics


async def test_retry_after_is_whole_seconds_and_never_zero(
    make_app: MakeApp, window_clock: ManualClock
) -> None:
    client = await make_app(creates_per_token="1/minute")
    assert (await post(client, "editor")).status == 200
    window_clock.advance(59.5)
    assert (await post(client, "editor")).headers["Retry-After"] == "1"
    window_clock.advance(0.5)
    assert (await post(client, "editor")).headers["Retry-After"] == "1"
