"""A dashboard with every case planning and embedding must tell apart, and a resolver for it."""

from __future__ import annotations

from typing import Any

from snapshot_server.capture.model import DatasourceTarget

MAIN = DatasourceTarget("main", 15_000)
SLOW = DatasourceTarget("slow", 60_000)

# 2023-11-14T22:13:27Z: not a multiple of any step, so alignment shows.
NOW_MS = 1_700_000_007_000


def resolve(ref: Any) -> DatasourceTarget | None:
    """``main`` is the default and answers to its uid and name; ``slow`` to its uid only."""
    if ref is None or ref in ("prom-uid", "Prometheus"):
        return MAIN
    if isinstance(ref, dict):
        uid = ref.get("uid")
        if uid == "prom-uid" or (uid is None and ref.get("type") in (None, "prometheus")):
            return MAIN
        if uid == "slow-uid":
            return SLOW
    return None


PROM = {"type": "prometheus", "uid": "prom-uid"}


def sample_dashboard() -> dict[str, Any]:
    return {
        "uid": "capture-sample",
        "title": "Capture sample",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "job",
                    "type": "custom",
                    "multi": True,
                    "current": {"value": ["api", "web"], "text": ["api", "web"]},
                },
                {"name": "ds", "type": "datasource", "current": {"value": "prom-uid"}},
            ]
        },
        "panels": [
            {
                "id": 1,
                "type": "timeseries",
                "title": "Requests",
                "gridPos": {"x": 0, "y": 0, "w": 24, "h": 8},
                "datasource": PROM,
                "targets": [
                    {
                        "refId": "A",
                        "datasource": PROM,
                        "expr": 'sum by (job) (rate(http_requests_total{job=~"$job"}'
                        "[$__rate_interval]))",
                        "legendFormat": "{{job}}",
                    },
                    {"refId": "B", "datasource": PROM, "expr": "up", "hide": True},
                    {"refId": "C", "datasource": PROM, "expr": ""},
                    {
                        "refId": "D",
                        "datasource": PROM,
                        "expr": "sum(up)",
                        "instant": True,
                        "range": True,
                    },
                ],
            },
            {
                "id": 2,
                "type": "text",
                "title": "Notes",
                "gridPos": {"x": 0, "y": 8, "w": 12, "h": 4},
                "options": {"content": "no queries here"},
            },
            {
                "id": 3,
                "type": "logs",
                "title": "Logs",
                "datasource": {"type": "loki", "uid": "loki-uid"},
                "targets": [{"refId": "A", "expr": '{job="api"}'}],
            },
            {
                "id": 4,
                "type": "row",
                "title": "Collapsed",
                "collapsed": True,
                "panels": [
                    {
                        "id": 5,
                        "type": "stat",
                        "title": "Nested stat",
                        "gridPos": {"x": 0, "y": 13, "w": 6, "h": 4},
                        "maxDataPoints": 100,
                        "interval": "1m",
                        "datasource": "${ds}",
                        "targets": [
                            {
                                "refId": "A",
                                "expr": "count(up)",
                                "interval": "2m",
                                "intervalFactor": 2,
                            }
                        ],
                    }
                ],
            },
            {
                "id": 6,
                "type": "timeseries",
                "title": "Mixed",
                "gridPos": {"x": 0, "y": 14, "w": 12, "h": 8},
                "datasource": {"type": "datasource", "uid": "-- Mixed --"},
                "targets": [
                    {
                        "refId": "A",
                        "datasource": {"type": "prometheus", "uid": "slow-uid"},
                        "expr": "slow_metric",
                    },
                    {
                        "refId": "B",
                        "datasource": {"type": "loki", "uid": "loki-uid"},
                        "expr": 'count_over_time({job="x"}[1m])',
                    },
                    {"refId": "C", "expr": "default_metric"},
                ],
            },
            {
                "id": 7,
                "type": "timeseries",
                "title": "Only hidden",
                "datasource": PROM,
                "targets": [{"refId": "A", "expr": "up", "hide": True}],
                "snapshotData": [],
            },
            {
                "id": 8,
                "type": "gauge",
                "title": "Null datasource",
                "datasource": None,
                "targets": [{"refId": "A", "expr": "vector(1)"}],
                "snapshotData": [{"legacy": True}],
            },
        ],
    }
