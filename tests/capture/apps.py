"""The application under capture tests: capture enabled against the session's Prometheus (or
any URL), the API suite's tokens, the memory store (capture does not depend on the backend),
and the dashboards the tests post."""

from __future__ import annotations

import dataclasses
from typing import Any

from snapshot_server.capture.settings import CaptureSettings, DatasourceSettings
from snapshot_server.config import (
    AuthConfig,
    Config,
    ServerConfig,
    SnapshotsConfig,
    StorageConfig,
    token_config,
)
from tests.api.conftest import ROOT_URL, USERS

PROM_UID = "prom-uid"
LOKI = {"type": "loki", "uid": "loki-uid"}
CAPTURER_TOKEN = "capture-only-token"


def capture_config(url: str, *, public_mode: bool = False, **capture: Any) -> Config:
    """Capture enabled with one default datasource at ``url`` (mapping ``PROM_UID``), and
    ``capture`` overriding any other ``[capture]`` setting."""
    datasource = DatasourceSettings(name="prom", url=url, uids=(PROM_UID,), default=True)
    settings = dataclasses.replace(
        CaptureSettings(enabled=True, datasources=(datasource,)), **capture
    )
    tokens = tuple(
        token_config(name, token, role=role, org_id=org, user_id=user)
        for name, (token, org, user, role) in USERS.items()
    )
    # A token that may create but not capture.
    creator = dataclasses.replace(
        token_config("creator", CAPTURER_TOKEN, role="Editor", user_id=9),
        scopes=frozenset({"snapshots:create", "snapshots:read"}),
    )
    return Config(
        server=ServerConfig(root_url=ROOT_URL, max_body_bytes=16 << 20),
        storage=StorageConfig(backend="memory"),
        snapshots=SnapshotsConfig(public_mode=public_mode),
        auth=AuthConfig(tokens=(*tokens, creator)),
        capture=settings,
    )


def panel(pid: int, title: str, *targets: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "gridPos": {"h": 8, "w": 24, "x": 0, "y": pid * 8},
        "datasource": {"type": "prometheus", "uid": PROM_UID},
        "targets": list(targets),
        **extra,
    }


def dashboard() -> dict[str, Any]:
    """Every kind of panel capture meets: mapped, default (no datasource), inside a collapsed
    row, a hidden target, an instant target, and a panel of another datasource (untouched)."""
    return {
        "title": "Capture me",
        "uid": "cap",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{"name": "job", "type": "constant", "query": "api"}]},
        "panels": [
            panel(
                1,
                "Requests",
                {
                    "refId": "A",
                    "expr": 'rate(capture_requests_total{job="$job"}[5m])',
                    "legendFormat": "{{code}}",
                },
                {"refId": "B", "expr": "capture_singleton", "hide": True},
            ),
            panel(
                2,
                "Temperature",
                {"refId": "T", "expr": "capture_temperature_celsius", "legendFormat": "{{room}}"},
                datasource=None,
            ),
            panel(3, "Flaky", {"refId": "F", "expr": "capture_flaky"}),
            {
                "id": 10,
                "type": "row",
                "title": "More",
                "collapsed": True,
                "panels": [
                    panel(4, "Singleton", {"refId": "S", "expr": "capture_singleton"}),
                    panel(5, "Now", {"refId": "I", "expr": "capture_singleton", "instant": True}),
                ],
            },
            panel(6, "Logs", {"refId": "L", "expr": '{job="api"}'}, datasource=LOKI),
        ],
    }
