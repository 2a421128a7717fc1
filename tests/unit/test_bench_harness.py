"""The benchmark harness itself (``bench/``): wrk's output is read right, every scenario's Lua
script sends what it claims to a real server, and rows are held to the issue's targets. Speed is
never asserted here: a second of wrk per script, against a tiny aiohttp app."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from bench import wrk
from bench.payloads import create_body
from bench.report import judge, wrk_rows
from tests.support import skip_or_fail

CONNECTIONS = 4

OUTPUT = """Running 1s test @ http://127.0.0.1:1/
  2 threads and 64 connections
WRKJSON {"requests":1200,"duration_us":2000000,"bytes":999,"p50_us":1500,"p90_us":2500,\
"p99_us":9000,"max_us":12000,"connect":0,"read":1,"write":0,"status":3,"timeout":2}
"""


def result(rps: float, p50: float = 1.0, p99: float = 2.0) -> wrk.WrkResult:
    return wrk.WrkResult(int(rps), 1.0, p50, p50, p99, p99, 0, 0)


def test_the_done_line_is_read_in_milliseconds_with_errors_counted() -> None:
    parsed = wrk.parse_output(OUTPUT)
    assert parsed.rps == 600
    assert (parsed.p50_ms, parsed.p90_ms, parsed.p99_ms, parsed.max_ms) == (1.5, 2.5, 9.0, 12.0)
    assert parsed.non_2xx == 3
    assert parsed.socket_errors == 3  # read + timeout
    assert parsed.failed == "3 non-2xx, 3 socket errors"


def test_output_without_the_done_line_is_an_error() -> None:
    with pytest.raises(ValueError, match="no WRKJSON line"):
        wrk.parse_output("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_ratios_are_taken_round_by_round_and_held_to_the_targets() -> None:
    reference = [result(1000), result(2000), result(1000)]
    runs = {"sqlite": [result(900), result(1000), result(800)], "memory": [result(100)] * 3}
    rows = {row.backend: row for row in wrk_rows("get-hot-20k", runs, reference)}
    assert rows["sqlite"].ratio == pytest.approx(0.8)  # median of 0.9, 0.5, 0.8
    assert rows["sqlite"].verdict == "PASS"
    assert rows["memory"].verdict == "MISS"
    assert rows["reference"].ratio is None


def test_a_long_tail_misses_and_targets_depend_on_backend() -> None:
    assert judge("get-cold", "redis", 0.5, 1.0, 4.0)[1]
    assert not judge("get-cold", "redis", 0.5, 1.0, 4.1)[1]
    assert judge("post-20k", "sqlite", 0.4, 1.0, 2.0)[1]
    assert not judge("post-20k", "redis", 0.4, 1.0, 2.0)[1]
    assert judge("post-20k", "memory", 0.01, 1.0, 9.0) == ("", True)  # the issue sets none
    assert not judge("list-100k", "sqlite", 1.0, 10.5, 11.0)[1]


def test_realistic_bodies_have_the_size_asked_and_grafanas_shape() -> None:
    for size in (20_000, 1 << 20):
        body = create_body(size, key="k1")
        assert size <= len(body) <= size * 1.02
        parsed = orjson.loads(body)
        assert parsed["key"] == "k1"
        assert parsed["dashboard"]["schemaVersion"] == 39
        assert {p["type"] for p in parsed["dashboard"]["panels"]} == {"timeseries"}


@pytest.fixture
def wrk_program() -> str:
    program = shutil.which("wrk")
    if program is None:
        skip_or_fail("wrk is not installed (Debian package wrk)")
    return str(program)


async def recording_server(aiohttp_server: AiohttpServer, seen: Counter[str]) -> str:
    async def record(request: web.Request) -> web.Response:
        body = await request.read()
        seen[f"{request.method} {request.path_qs} {request.headers.get('Authorization')}"] += 1
        seen[f"bytes {len(body)}"] += 1
        return web.Response(text="{}", status=404 if "missing" in request.path else 200)

    app = web.Application(client_max_size=1 << 20)
    app.router.add_route("*", "/{tail:.*}", record)
    server = await aiohttp_server(app)
    return f"http://127.0.0.1:{server.port}"


async def test_the_scripts_send_what_they_claim(
    wrk_program: str, aiohttp_server: AiohttpServer, tmp_path: Path
) -> None:
    seen: Counter[str] = Counter()
    base = await recording_server(aiohttp_server, seen)
    body = tmp_path / "body.json"
    body.write_bytes(b'{"dashboard":{}}')
    keys = tmp_path / "keys.txt"
    keys.write_text("\n".join(f"k{n}" for n in range(100_000)))

    async def run(script: str, path: str) -> wrk.WrkResult:
        (tmp_path / "s.lua").write_text(script)
        return await wrk.run_wrk(base + path, tmp_path / "s.lua", 1, connections=CONNECTIONS)

    def counted(result: wrk.WrkResult, received: int) -> bool:
        # wrk counts answers it read; the server may have seen one more per connection.
        return result.requests <= received <= result.requests + CONNECTIONS

    posted = await run(wrk.post_script(body, "tok"), "/api/snapshots")
    assert posted.requests > 0
    assert not posted.failed
    assert counted(posted, seen["POST /api/snapshots Bearer tok"])
    assert counted(posted, seen["bytes 16"])

    seen.clear()
    cold = await run(wrk.cold_get_script(keys), "/")
    gets = [k for k in seen if k.startswith("GET /api/snapshots/k")]
    assert cold.requests > 0
    assert counted(cold, len(gets))
    assert all(seen[k] == 1 for k in gets)  # a different key each request

    seen.clear()
    mixed = await run(wrk.mixed_script("/hot", body, "tok"), "/")
    assert seen["POST /api/snapshots Bearer tok"] * 10 == pytest.approx(mixed.requests, abs=50)
    assert seen["GET /hot None"] > 0

    seen.clear()
    listed = await run(wrk.authorized_get_script("tok"), "/api/dashboard/snapshots?limit=100")
    assert counted(listed, seen["GET /api/dashboard/snapshots?limit=100 Bearer tok"])

    missing = await run(wrk.get_script(), "/missing")
    assert missing.failed.startswith(f"{missing.requests} non-2xx")
