"""Each worker keeps the answers of GET /api/snapshots/{key} in memory; a delete answered by one
server process must be seen by the next GET on any other one (another worker on the same
storage, or another host on the same Redis), whichever way the snapshot was deleted."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.processes import ADMIN_TOKEN, EDITOR_TOKEN, ServerProcess

EDITOR = {"Authorization": f"Bearer {EDITOR_TOKEN}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
READS = 5  # GETs through each server before the delete: enough to be served from its cache


async def test_a_delete_through_one_worker_is_seen_by_the_other(
    shared_storage: str, tmp_path: Path
) -> None:
    first = ServerProcess(tmp_path, shared_storage)
    second = ServerProcess(tmp_path, shared_storage)
    await first.start()
    await second.start()
    a, b = first.base_url, second.base_url
    try:
        async with aiohttp.ClientSession() as http:

            async def status(base: str, key: str) -> int:
                async with http.get(f"{base}api/snapshots/{key}") as response:
                    await response.read()
                    return response.status

            made = []
            for n in range(3):
                async with http.post(
                    f"{a}api/snapshots", json={"dashboard": {"n": n}}, headers=EDITOR
                ) as response:
                    assert response.status == 200
                    made.append(await response.json())
            for _round in range(READS):
                for base in (a, b):
                    for snapshot in made:
                        assert await status(base, snapshot["key"]) == 200

            for base in (a, b):  # else this would prove nothing about a cache
                assert await cache_hits(http, base) >= len(made) * (READS - 1)

            # By view key through a, then read at once through b (and a).
            async with http.delete(f"{a}api/snapshots/{made[0]['key']}", headers=ADMIN) as r:
                assert r.status == 200
            assert await status(b, made[0]["key"]) == 404
            assert await status(a, made[0]["key"]) == 404
            # By deleteKey through b, read through a.
            async with http.get(f"{b}api/snapshots-delete/{made[1]['deleteKey']}") as r:
                assert r.status == 200
            assert await status(a, made[1]["key"]) == 404
            assert await status(b, made[1]["key"]) == 404
            # The one left is still served by both, and its answer is unchanged.
            for base in (a, b):
                async with http.get(f"{base}api/snapshots/{made[2]['key']}") as response:
                    assert (await response.json())["dashboard"] == {"n": 2}
    finally:
        await first.stop()
        await second.stop()
    for server in (first, second):
        assert "Traceback" not in server.log(), server.log()[-3000:]


async def cache_hits(http: aiohttp.ClientSession, base: str) -> float:
    """The server's count of GET answers served from its response cache, from /metrics."""
    async with http.get(f"{base}metrics") as response:
        text = await response.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            hit = sample.labels == {"outcome": "hit"}
            if sample.name == "snapshot_response_cache_lookups_total" and hit:
                return sample.value
    raise AssertionError("no snapshot_response_cache_lookups_total{outcome=hit} in /metrics")
