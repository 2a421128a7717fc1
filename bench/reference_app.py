"""The ceiling: the least an aiohttp server can do for the routes the benchmark drives, run as
its own process with one worker, as snapshot-server is.

    python -m bench.reference_app --port 8081 --data DIR

``DIR`` holds what ``bench.ceiling`` wrote: ``responses/KEY`` (the exact GET response bodies
snapshot-server gave for the hot keys), ``cold-keys.txt`` (each served the 20 KB hot body) and
``list.json`` (the listing items, one list). GET answers bytes from a dict; POST stores the body
in a dict (the oldest dropped past ``KEEP`` so a long run cannot fill the memory) and answers
the five fields snapshot-server answers; the listing answers a slice of one list.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

KEEP = 10_000  # posted bodies kept
COLD_BODY = "hot-20k"  # the response every cold key is answered with


def build_app(data: Path) -> web.Application:
    responses = {path.name: path.read_bytes() for path in (data / "responses").iterdir()}
    cold = responses[COLD_BODY]
    for key in (data / "cold-keys.txt").read_text().split():
        responses[key] = cold
    items: list[dict[str, Any]] = orjson.loads((data / "list.json").read_bytes())
    posted: dict[str, bytes] = {}
    ids = itertools.count(1)

    async def get_snapshot(request: web.Request) -> web.Response:
        body = responses.get(request.match_info["key"])
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="application/json")

    async def create_snapshot(request: web.Request) -> web.Response:
        number = next(ids)
        key = f"ref-{number}"
        posted[key] = await request.read()
        if len(posted) > KEEP:
            del posted[next(iter(posted))]
        answer = {
            "deleteKey": f"del-{number}",
            "deleteUrl": f"http://127.0.0.1/api/snapshots-delete/del-{number}",
            "key": key,
            "url": f"http://127.0.0.1/dashboard/snapshot/{key}",
            "id": number,
        }
        return web.Response(body=orjson.dumps(answer), content_type="application/json")

    async def list_snapshots(request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", "1000"))
        return web.Response(body=orjson.dumps(items[:limit]), content_type="application/json")

    app = web.Application(client_max_size=64 << 20)
    app.router.add_get("/api/snapshots/{key}", get_snapshot)
    app.router.add_post("/api/snapshots", create_snapshot)
    app.router.add_get("/api/dashboard/snapshots", list_snapshots)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()
    app = build_app(args.data)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
