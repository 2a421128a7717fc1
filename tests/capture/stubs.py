"""Stub HTTP servers (aiohttp, on 127.0.0.1) that misbehave as a Prometheus datasource may:
redirect, never answer, answer too much, answer something that is not Prometheus's API. Each
records the requests it received, so a test can tell what was (not) sent where."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

Answer = Callable[["Stub", web.Request], Awaitable[web.StreamResponse]]
ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


@dataclass
class Stub:
    """A running stub: its base URL and the (path, headers, form) of each request."""

    url: str
    received: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)


async def start_stub(
    aiohttp_server: ServerFactory,
    answer: Callable[[Stub, web.Request], Awaitable[web.StreamResponse]],
) -> Stub:
    stub = Stub(url="")

    async def handle(request: web.Request) -> web.StreamResponse:
        form = {k: str(v) for k, v in (await request.post()).items()}
        stub.received.append((request.path, dict(request.headers), form))
        return await answer(stub, request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    server = await aiohttp_server(app)
    stub.url = f"http://127.0.0.1:{server.port}"
    return stub


async def redirect_to_trap(stub: Stub, request: web.Request) -> web.Response:
    """A 307 (which keeps the POST and its headers) to this stub's own /trap path."""
    if request.path == "/trap":
        return web.json_response(
            {"status": "success", "data": {"resultType": "matrix", "result": []}}
        )
    raise web.HTTPTemporaryRedirect(location=f"{stub.url}/trap")


async def never_answer(stub: Stub, request: web.Request) -> web.Response:
    """Holds the request until the test releases it (after the client gave up)."""
    await stub.release.wait()
    return web.json_response({"status": "success", "data": {"resultType": "matrix", "result": []}})


async def html_page(stub: Stub, request: web.Request) -> web.Response:
    return web.Response(text="<html>not Prometheus</html>", content_type="text/html")


async def unauthorized(stub: Stub, request: web.Request) -> web.Response:
    return web.json_response({"message": "who are you"}, status=401)


async def big_matrix(stub: Stub, request: web.Request) -> web.StreamResponse:
    """A valid answer of ~100 kB (streamed in chunks, no Content-Length)."""
    values = [[1700000000 + i * 15, "1"] for i in range(5000)]
    body = {
        "status": "success",
        "data": {"resultType": "matrix", "result": [{"metric": {}, "values": values}]},
    }
    response = web.StreamResponse()
    response.content_type = "application/json"
    await response.prepare(request)
    raw = orjson.dumps(body)
    for i in range(0, len(raw), 4096):
        await response.write(raw[i : i + 4096])
    await response.write_eof()
    return response


def answering(status: int, body: object) -> Answer:
    """A stub answer: ``body`` as JSON with ``status``."""

    async def answer(stub: Stub, request: web.Request) -> web.StreamResponse:
        return web.json_response(body, status=status)

    return answer
