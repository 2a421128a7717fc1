"""Test doubles for the purge tests: an instant ``sleep`` that records what it was asked to
wait, and a local HTTP server that plays a CDN API from a script of answers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

from snapshot_server.purge import PurgeDispatcher, Purger
from tests.support import ManualClock


class RecordingSleep:
    """Stands in for ``asyncio.sleep``: records each delay, moves the clock, returns at once."""

    def __init__(self, clock: ManualClock | None = None) -> None:
        self.delays: list[float] = []
        self.clock = clock

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if self.clock is not None:
            self.clock.advance(delay)
        await asyncio.sleep(0)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int = 200
    json: Any = None
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class ScriptedApi:
    """Answers requests with ``script`` in order, repeating the last answer; records them."""

    def __init__(self, script: Sequence[Answer]) -> None:
        self.script = list(script)
        self.seen: list[Seen] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(
            Seen(
                request.method,
                request.path,
                request.query_string,
                dict(request.headers),
                await request.read(),
            )
        )
        answer = self.script[min(len(self.seen), len(self.script)) - 1]
        if answer.json is not None:
            return web.json_response(answer.json, status=answer.status, headers=answer.headers)
        return web.Response(status=answer.status, text=answer.text, headers=answer.headers)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app


def base_url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


def dispatcher(
    purgers: Sequence[Purger],
    sleep: RecordingSleep,
    clock: ManualClock,
    root_url: str = "https://snapshots.example.com/",
    **kw: Any,
) -> PurgeDispatcher:
    """A dispatcher whose jitter is fixed at its midpoint (``rand = 0.5``)."""
    return PurgeDispatcher(
        purgers,
        root_url=root_url,
        clock=clock,
        sleep=sleep,
        random=lambda: 0.5,
        **kw,
    )


async def run(d: PurgeDispatcher, *keys: str, reason: str = "delete") -> None:
    """Start ``d``, submit ``keys``, wait (bounded) until all are handled, close ``d``."""
    await d.start()
    for key in keys:
        d.submit(key, reason)
    async with asyncio.timeout(10):
        await d.join()
    await d.aclose(timeout=1)
