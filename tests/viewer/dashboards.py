"""Dashboards for the viewer tests: fixture files, the real Grafana sample, a large generator."""

from __future__ import annotations

import json
import math
import pathlib
from typing import Any

from snapshot_server.models import Snapshot, SnapshotMeta
from snapshot_server.viewer import render_snapshot_page

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
# Grafana's own create body, copied byte for byte (tests/fixtures/README.md says from where).
REAL_SAMPLE = FIXTURES / "grafana" / "grafana-10.4-timeseries-frames-create-body.json"
FIXTURE_NAMES = ("legacy-graph", "scenes-timeseries", "stats", "tables", "text-xss", "rows")
CREATED = 1763780405.0  # 2025-11-22T03:00:05Z, just after the fixtures' data


def load_body(name: str) -> dict[str, Any]:
    """The ``POST /api/snapshots`` body of fixture ``name`` (``"real"`` is Grafana's own sample)."""
    path = REAL_SAMPLE if name == "real" else FIXTURES / f"{name}.json"
    body: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return body


def make_snapshot(
    dashboard: dict[str, Any] | bytes, name: str = "test", key: str = "k"
) -> Snapshot:
    """A stored snapshot holding ``dashboard`` (a dict is serialised as a client would send it)."""
    raw = dashboard if isinstance(dashboard, bytes) else json.dumps(dashboard).encode()
    meta = SnapshotMeta(
        id=1,
        key=key,
        delete_key_hash="0" * 64,
        name=name,
        org_id=1,
        user_id=1,
        external=False,
        external_url="",
        external_delete_url="",
        created=CREATED,
        updated=CREATED,
        expires=CREATED + 3600,
        etag='"e"',
    )
    return Snapshot(meta, raw)


def render_dashboard(dashboard: dict[str, Any] | bytes, name: str = "test") -> str:
    """The viewer page of a snapshot of ``dashboard``, rendered with nonce ``N0nce``."""
    return render_snapshot_page(make_snapshot(dashboard, name), nonce="N0nce")


def fixture_snapshot(name: str) -> Snapshot:
    """The snapshot a server would store for fixture ``name``."""
    body = load_body(name)
    return make_snapshot(body["dashboard"], body.get("name") or "Unnamed snapshot", key=name)


def large_dashboard(panels: int = 30, series: int = 5, points: int = 1000) -> dict[str, Any]:
    """A deterministic dashboard of ``panels`` timeseries panels, each ``series`` x ``points``.

    Data frames as Grafana 10 writes them in ``snapshotData``; 10 s steps ending at the time range's
    end; values are smooth waves with a few nulls, so downsampling and gaps are both exercised.
    """
    end = 1763784000000  # 2025-11-22T04:00:00Z
    step = 10_000
    times = [end - (points - 1 - i) * step for i in range(points)]
    out = []
    for p in range(panels):
        frames = []
        for s in range(series):
            values: list[float | None] = [
                round(
                    100 + 40 * math.sin(i / (25 + 7 * s) + p) + 15 * math.sin(i * (s + 1) / 3.1), 3
                )
                for i in range(points)
            ]
            for gap in range(300 + 11 * s, 305 + 11 * s):
                values[gap] = None
            frames.append(
                {
                    "refId": chr(65 + s),
                    "fields": [
                        {"name": "Time", "type": "time", "config": {}, "values": times},
                        {
                            "name": "Value",
                            "type": "number",
                            "labels": {"instance": f"host-{s}:9100", "panel": str(p)},
                            "config": {"displayNameFromDS": f"p{p} host-{s}"},
                            "values": values,
                        },
                    ],
                }
            )
        out.append(
            {
                "datasource": None,
                "fieldConfig": {"defaults": {"unit": "ms"}, "overrides": []},
                "gridPos": {"h": 8, "w": 8, "x": (p % 3) * 8, "y": (p // 3) * 8},
                "id": p + 1,
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "pluginVersion": "10.4.1",
                "snapshotData": frames,
                "targets": [],
                "title": f"Latency {p + 1}",
                "type": "timeseries",
            }
        )
    return {
        "title": "Large dashboard",
        "uid": "large",
        "schemaVersion": 39,
        "panels": out,
        "time": {"from": "2025-11-22T01:13:30.000Z", "to": "2025-11-22T04:00:00.000Z"},
        "snapshot": {"timestamp": "2025-11-22T04:00:01.000Z"},
    }


def many_panels_dashboard(panels: int = 20_000, points: int = 83) -> dict[str, Any]:
    """A dashboard of ``panels`` small timeseries panels, one series of ``points`` each.

    With the defaults it is about 45 MB of JSON: the shape of the "20,000 panels" report (many
    panels, little data each), where the cost is the number of panels, not the data.
    """
    end = 1763784000000  # 2025-11-22T04:00:00Z
    times = [end - (points - 1 - i) * 60_000 for i in range(points)]
    out = []
    for p in range(panels):
        values = [round(100 + 40 * math.sin(i / 9 + p), 3) for i in range(points)]
        out.append(
            {
                "datasource": {"type": "prometheus", "uid": "prom"},
                "fieldConfig": {"defaults": {"unit": "ms"}, "overrides": []},
                "gridPos": {"h": 6, "w": 6, "x": (p % 4) * 6, "y": (p // 4) * 6},
                "id": p + 1,
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "snapshotData": [
                    {
                        "refId": "A",
                        "fields": [
                            {"name": "Time", "type": "time", "config": {}, "values": times},
                            {
                                "name": "Value",
                                "type": "number",
                                "labels": {"instance": f"host-{p}:9100"},
                                "config": {},
                                "values": values,
                            },
                        ],
                    }
                ],
                "title": f"Panel {p + 1}",
                "type": "timeseries",
            }
        )
    return {
        "title": "Many panels",
        "panels": out,
        "time": {"from": "2025-11-22T02:41:00.000Z", "to": "2025-11-22T04:00:00.000Z"},
    }


RUNBOOK = (
    "## Step {n}\n\nCheck the *error rate* on **every** host, then read the "
    "[runbook](https://wiki.example.com/runbook) and run `systemctl status api`.\n\n"
    "| host | role |\n|---|---|\n| web-{n} | frontend |\n\n- restart if needed\n- page on-call\n\n"
)


def markdown_dashboard(chars: int = 5_300_000) -> dict[str, Any]:
    """One markdown text panel of about ``chars`` characters of ordinary runbook markdown."""
    parts: list[str] = []
    size = 0
    n = 0
    while size < chars:
        part = RUNBOOK.format(n=n)
        parts.append(part)
        size += len(part)
        n += 1
    content = "".join(parts)[:chars]
    panel = {
        "type": "text",
        "title": "Runbook",
        "gridPos": {"x": 0, "y": 0, "w": 24, "h": 20},
        "options": {"mode": "markdown", "content": content},
    }
    return {"title": "Long runbook", "panels": [panel]}
