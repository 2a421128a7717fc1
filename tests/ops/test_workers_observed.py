"""``serve --workers 2`` seen by an operator: every scrape of ``/metrics`` reports the traffic of
both workers, and the JSON log holds one parseable line per request and none of the secrets."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.test_workers import worker_pids
from tests.ops.samples import Samples, parse
from tests.processes import ADMIN_TOKEN, EDITOR_TOKEN, ServerProcess
from tests.support import skip_or_fail

EDITOR = {"Authorization": f"Bearer {EDITOR_TOKEN}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CREATES, DELETES_BY_KEY, DELETES_BY_DELETE_KEY, MISSES = 24, 6, 6, 4


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def lint(exposition: str) -> None:
    """Prometheus's own checker (``promtool check metrics``) accepts the summed exposition."""
    promtool = shutil.which("promtool")
    if promtool is None:
        skip_or_fail("promtool (Prometheus) not installed")
        return
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, text=True,
        timeout=30,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


def multiproc_dir(pid: int) -> Path:
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    (entry,) = [e for e in environ if e.startswith(b"PROMETHEUS_MULTIPROC_DIR=")]
    return Path(entry.split(b"=", 1)[1].decode())


async def test_metrics_and_json_logs_cover_both_workers(tmp_path: Path) -> None:
    storage = f'[storage]\nbackend = "sqlite"\n[storage.sqlite]\npath = "{tmp_path}/s.db"'
    # Lines before the first table belong to the [server] table the helper writes.
    server = ServerProcess(tmp_path, f'log_format = "json"\n\n{storage}', workers=2)
    await server.start()
    base = server.base_url
    secrets: list[str] = [EDITOR_TOKEN, ADMIN_TOKEN, server.probe_token]
    try:
        assert server.process is not None
        workers = worker_pids(server.process.pid)
        directories = {multiproc_dir(pid) for pid in workers}
        assert len(directories) == 1  # one directory for the whole server, private to it
        (directory,) = directories
        assert directory.is_dir()
        # A fresh connection for each request: the kernel spreads them over the workers.
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as http:
            made: list[dict[str, Any]] = []
            for n in range(CREATES):
                async with http.post(
                    f"{base}api/snapshots", json={"dashboard": {"n": n}}, headers=EDITOR
                ) as response:
                    assert response.status == 200
                    made.append(await response.json())
            for item in made:
                secrets += [item["key"], item["deleteKey"]]
                async with http.get(f"{base}api/snapshots/{item['key']}") as response:
                    assert response.status == 200
            for item in made[:DELETES_BY_KEY]:
                async with http.delete(f"{base}api/snapshots/{item['key']}", headers=ADMIN) as r:
                    assert r.status == 200
            for item in made[DELETES_BY_KEY : DELETES_BY_KEY + DELETES_BY_DELETE_KEY]:
                async with http.get(f"{base}api/snapshots-delete/{item['deleteKey']}") as r:
                    assert r.status == 200
            for item in made[:MISSES]:  # deleted: 404, the key in the path again
                async with http.get(f"{base}api/snapshots/{item['key']}") as response:
                    assert response.status == 404
            scrapes = []
            for _ in range(8):
                async with http.get(f"{base}metrics") as response:
                    assert response.status == 200
                    text = await response.text()
                    scrapes.append(parse(text))
        assert any(directory.glob("*.db"))
    finally:
        assert await server.stop() == 0
    assert not directory.exists()  # removed on the way out
    lint(text)

    for samples in scrapes:
        # Whichever worker answered, the whole server's totals.
        get = "snapshot_http_requests_total"
        assert value(samples, get, method="POST", route="/api/snapshots", status="200") == CREATES
        assert (
            value(samples, get, method="GET", route="/api/snapshots/{key}", status="200") == CREATES
        )
        assert (
            value(samples, get, method="GET", route="/api/snapshots/{key}", status="404") == MISSES
        )
        assert (
            value(
                samples,
                "snapshot_http_request_duration_seconds_count",
                method="GET",
                route="/api/snapshots/{key}",
            )
            == CREATES + MISSES
        )
        assert value(samples, "snapshot_created_total", route="/api/snapshots") == CREATES
        assert (
            value(samples, "snapshot_deleted_total", route="/api/snapshots/{key}") == DELETES_BY_KEY
        )
        assert (
            value(samples, "snapshot_deleted_total", route="/api/snapshots-delete/{delete_key}")
            == DELETES_BY_DELETE_KEY
        )
        assert value(samples, "snapshot_expired_removed_total") == 0
        labels = {v for _name, pairs in samples for _k, v in pairs}
        assert not labels & set(secrets)  # no key, deleteKey or token is ever a label

    lines = [line for line in server.log().splitlines() if line.strip()]
    entries = []
    for line in lines:
        if line.startswith("serving on "):
            continue  # the announcement, printed for people
        entries.append(json.loads(line))  # every other line is one JSON object
    access = [e for e in entries if e["logger"] == "snapshot_server.access"]
    ours = Counter(
        (e["method"], e["route"], e["status"])
        for e in access
        if e["route"] != "/api/snapshot/shared-options"  # the helper's start-up probes
    )
    assert ours == {
        ("POST", "/api/snapshots", 200): CREATES,
        ("GET", "/api/snapshots/{key}", 200): CREATES,
        ("DELETE", "/api/snapshots/{key}", 200): DELETES_BY_KEY,
        ("GET", "/api/snapshots-delete/{delete_key}", 200): DELETES_BY_DELETE_KEY,
        ("GET", "/api/snapshots/{key}", 404): MISSES,
        ("GET", "/metrics", 200): len(scrapes),
    }
    assert len({e["pid"] for e in access}) == 2  # the traffic reached both workers
    assert all(e["request_id"] for e in access)
    text = server.log()
    leaked = [secret for secret in secrets if secret in text]
    assert leaked == []
