"""A stand-in for an external snapshot server, on a free loopback port: it records every request
and answers as its ``mode`` says, so each way a remote can fail is one setting."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeRemote:
    """``create_mode``: ok | garbage500 | not_json | missing_fields | unauthorized |
    forbidden | slow | redirect | huge | huge_chunked | bad_url | sets_cookie | fixed_key.
    ``delete_mode``: ok | gone | fail."""

    create_mode: str = "ok"
    delete_mode: str = "ok"
    redirect_to: str = ""
    delete_base: str = ""  # the server its deleteUrls name ("": itself)
    fixed_key: str = ""
    seen: list[Seen] = field(default_factory=list)
    server: TestServer | None = None

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}/"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/snapshots", self._create)
        app.router.add_get("/api/snapshots-delete/{delete_key}", self._delete)
        app.router.add_route("*", "/{tail:.*}", self._other)
        return app

    async def _record(self, request: web.Request) -> None:
        self.seen.append(
            Seen(request.method, request.path, dict(request.headers), await request.read())
        )

    async def _create(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        mode = self.create_mode
        key = self.fixed_key or secrets.token_hex(16)
        delete_key = secrets.token_hex(16)
        answer: dict[str, Any] = {
            "key": key,
            "deleteKey": delete_key,
            "url": f"{self.base}dashboard/snapshot/{key}",
            "deleteUrl": f"{self.delete_base or self.base}api/snapshots-delete/{delete_key}",
            "id": len(self.seen),
        }
        if mode == "garbage500":
            return web.Response(status=500, text="<html>upstream exploded</html>")
        if mode == "not_json":
            return web.Response(text="this is not JSON", content_type="text/plain")
        if mode == "missing_fields":
            return web.json_response({"key": key, "url": answer["url"]})
        if mode in ("unauthorized", "forbidden"):
            status = 401 if mode == "unauthorized" else 403
            return web.json_response({"message": "Unauthorized"}, status=status)
        if mode == "slow":
            await asyncio.sleep(5)  # the publisher under test waits 1 s
        if mode == "redirect":
            raise web.HTTPFound(self.redirect_to)
        if mode == "huge":
            return web.json_response({**answer, "padding": "x" * (1 << 20)})
        if mode == "huge_chunked":  # no Content-Length: only counting what arrives stops it
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            for _ in range(64):
                await response.write(b" " * 16384)
            await response.write_eof()
            return response
        if mode == "sets_cookie":  # a session for whoever comes next from the same client
            response = web.json_response(answer)
            response.set_cookie("remote_session", secrets.token_hex(8), path="/")
            return response
        if mode == "bad_url":
            return web.json_response({**answer, "url": "javascript:alert(document.cookie)"})
        return web.json_response(answer)

    async def _delete(self, request: web.Request) -> web.Response:
        await self._record(request)
        if self.delete_mode == "gone":
            return web.json_response({"message": "Failed to get dashboard snapshot"}, status=500)
        if self.delete_mode == "fail":
            return web.json_response({"message": "Storage unavailable"}, status=503)
        return web.json_response({"message": "Snapshot deleted.", "id": 1})

    async def _other(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"message": "Not found"}, status=404)

    def requests(self, method: str, path_prefix: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path.startswith(path_prefix)]


async def start_fake(**settings: Any) -> FakeRemote:
    """A started ``FakeRemote`` (stop it with ``await fake.server.close()``)."""
    fake = FakeRemote(**settings)
    fake.server = TestServer(fake.app(), host="127.0.0.1")
    await fake.server.start_server()
    return fake
