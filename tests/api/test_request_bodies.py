"""Request bodies from hostile clients: compressed bodies inflated in bounded steps (never by
aiohttp, never past the limit), and no body read or invited before the caller may send one."""

from __future__ import annotations

import asyncio
import gzip
import zlib

import orjson
import pytest

from tests.api.conftest import Client, MakeClient, auth
from tests.api.raw_http import connect, read_response
from tests.support import gzip_bomb

MIB = 1 << 20


async def test_decompression_bomb_never_stalls_the_server(client: Client) -> None:
    bomb = gzip_bomb(512)  # ~0.5 MiB on the wire (under the 1 MiB limit), 512 MiB inflated
    loop = asyncio.get_running_loop()

    async def send(method: str, path: str, user: str | None) -> tuple[int, bytes]:
        headers = {"Content-Encoding": "gzip", **(auth(user) if user else {})}
        async with client.request(method, path, data=bomb, headers=headers) as response:
            return response.status, await response.read()

    bombs = asyncio.gather(
        send("POST", "/api/snapshots", "editor"),
        send("GET", "/api/health", None),
        send("POST", "/no/such/path", None),
        send("POST", "/api/snapshots", "editor"),
    )
    worst = 0.0
    probes = 0
    while not bombs.done() or probes < 5:
        started = loop.time()
        health = await client.get("/api/health")
        assert health.status == 200
        worst = max(worst, loop.time() - started)
        probes += 1
        await asyncio.sleep(0.01)
    (created, _), (probed, _), (unknown, _), (again, message) = await bombs
    assert (created, probed, unknown, again) == (413, 200, 404, 413)
    assert orjson.loads(message) == {"message": f"Request body too large: the limit is {MIB} bytes"}
    # Inflating the whole bomb takes seconds of CPU; a health probe never waits for it.
    assert worst < 1.0, f"a health probe waited {worst:.2f} s"
    listed = await client.get("/api/dashboard/snapshots", headers=auth("editor"))
    assert await listed.json() == []  # nothing half-written


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate", "GZIP", "identity"])
async def test_compressed_create_is_inflated(client: Client, encoding: str) -> None:
    body = orjson.dumps({"dashboard": {"title": "squeezed", "panels": []}, "name": "zipped"})
    if encoding.lower() in ("gzip", "x-gzip"):
        data = gzip.compress(body)
    elif encoding == "deflate":
        data = zlib.compress(body)
    else:
        data = body
    response = await client.post(
        "/api/snapshots",
        data=data,
        headers={"Content-Encoding": encoding, **auth("editor")},
    )
    assert response.status == 200, await response.text()
    made = await response.json()
    view = await client.get(f"/api/snapshots/{made['key']}")
    assert (await view.json())["dashboard"] == {"title": "squeezed", "panels": []}


async def test_inflated_size_is_what_counts(client: Client) -> None:
    # Well under the limit on the wire, over it once inflated.
    body = orjson.dumps({"dashboard": {"pad": "x" * (2 * MIB)}})
    response = await client.post(
        "/api/snapshots",
        data=gzip.compress(body),
        headers={"Content-Encoding": "gzip", **auth("editor")},
    )
    assert response.status == 413
    assert response.content_type == "application/json"


@pytest.mark.parametrize(
    ("encoding", "data", "status", "message"),
    [
        ("gzip", b'{"dashboard": {}}', 400, "Request body is not valid gzip data"),
        ("deflate", b"\x00\x01not deflate", 400, "Request body is not valid deflate data"),
        ("gzip", gzip.compress(b'{"dashboard": {}}', mtime=0)[:-6], 400, "Request body is not"),
        ("br", b"\x0b\x02\x80{}\x03", 415, "Unsupported Content-Encoding"),
        ("zstd", b"{}", 415, "Unsupported Content-Encoding"),
        ("gzip, gzip", b"{}", 415, "Unsupported Content-Encoding"),
    ],
    ids=["plain-as-gzip", "not-deflate", "truncated-gzip", "br", "zstd", "two-encodings"],
)
async def test_body_not_in_its_claimed_encoding_is_a_clear_json_error(
    client: Client, encoding: str, data: bytes, status: int, message: str
) -> None:
    response = await client.post(
        "/api/snapshots", data=data, headers={"Content-Encoding": encoding, **auth("editor")}
    )
    assert response.status == status
    assert response.content_type == "application/json"
    assert (await response.json())["message"].startswith(message)
    listed = await client.get("/api/dashboard/snapshots", headers=auth("editor"))
    assert await listed.json() == []


@pytest.mark.parametrize("expect", [True, False], ids=["expect-100-continue", "body-sent"])
@pytest.mark.parametrize(("user", "status"), [(None, 401), ("viewer", 403)])
async def test_a_caller_who_may_not_create_is_answered_before_any_body(
    client: Client, user: str | None, status: int, expect: bool
) -> None:
    reader, writer = await connect(client)
    token = f"Authorization: Bearer {auth(user)['Authorization'][7:]}\r\n" if user else ""
    head = f"POST /api/snapshots HTTP/1.1\r\nHost: x\r\n{token}Content-Length: {60 * MIB}\r\n"
    if expect:
        # No "100 Continue" may come first: nobody is invited to upload what they may not.
        writer.write(f"{head}Expect: 100-continue\r\n\r\n".encode())
    else:
        # Only 1 MiB of the announced 60: an answer now means nothing waited for (or read)
        # the rest.
        writer.write(f"{head}\r\n".encode() + b"{" + b" " * MIB)
    response = await read_response(reader, within=5)
    writer.close()
    assert response.status == status
    assert orjson.loads(response.body)["message"] in ("Unauthorized", "forbidden")


async def test_an_allowed_caller_is_invited_to_upload(make_client: MakeClient) -> None:
    client = await make_client(max_body=64 * MIB)
    reader, writer = await connect(client)
    body = orjson.dumps({"dashboard": {"title": "after continue"}})
    writer.write(
        "POST /api/snapshots HTTP/1.1\r\nHost: x\r\n"
        f"{auth('editor')['Authorization'].join(['Authorization: ', ''])}\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode()
    )
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(body)
    response = await read_response(reader)
    writer.close()
    assert response.status == 200
    made = orjson.loads(response.body)
    view = await client.get(f"/api/snapshots/{made['key']}")
    assert (await view.json())["dashboard"] == {"title": "after continue"}


async def test_unknown_expectation_is_417(client: Client) -> None:
    response = await client.post(
        "/api/snapshots",
        json={"dashboard": {}},
        headers={"Expect": "something-else", **auth("editor")},
    )
    assert response.status == 417
    assert response.content_type == "application/json"


@pytest.mark.parametrize(("path", "status"), [("/no/such/path", 404), ("/api/health", 405)])
async def test_no_upload_is_invited_where_no_body_is_read(
    client: Client, path: str, status: int
) -> None:
    reader, writer = await connect(client)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {MIB}\r\n"
        "Expect: 100-continue\r\n\r\n".encode()
    )
    response = await read_response(reader, within=5)  # the answer, not "100 Continue"
    writer.close()
    assert response.status == status
