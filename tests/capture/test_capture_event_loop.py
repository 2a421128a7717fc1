"""A capture's planning and embedding (pure Python over the whole dashboard, about half a second
per MB) run off the event loop: one large create does not stall every other request."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from snapshot_server.capture.capturing import Capturer
from snapshot_server.capture.failures import Uncounted
from snapshot_server.capture.model import CaptureRequest
from snapshot_server.capture.settings import CaptureSettings, DatasourceSettings
from snapshot_server.errors import PayloadTooLarge


def _large_dashboard(panels: int) -> dict[str, Any]:
    """``panels`` Prometheus panels of four targets each, with a variable to interpolate."""
    variable = {"name": "job", "type": "custom", "current": {"text": "api", "value": "api"}}
    return {
        "title": "large",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [variable]},
        "panels": [
            {
                "id": i,
                "type": "timeseries",
                "title": f"panel {i}",
                "gridPos": {"w": 12, "h": 8, "x": 0, "y": i},
                "datasource": {"type": "prometheus", "uid": "prom"},
                "targets": [
                    {"refId": ref, "expr": f'rate(requests_total{{job="$job",n="{i}"}}[5m])'}
                    for ref in "ABCD"
                ],
            }
            for i in range(panels)
        ],
    }


async def test_planning_a_large_dashboard_leaves_the_event_loop_free() -> None:
    # The query cap refuses the plan once it is made: nothing is sent anywhere.
    settings = CaptureSettings(
        enabled=True,
        max_queries=1,
        datasources=(DatasourceSettings(name="p", url="http://127.0.0.1:9", uids=("prom",)),),
    )
    capturer = Capturer(settings, Uncounted(), clock=time.time)
    ticks: list[float] = []

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.005)
            ticks.append(time.perf_counter())

    ticker = asyncio.create_task(tick())
    try:
        await asyncio.sleep(0.02)
        started = time.perf_counter()
        with pytest.raises(PayloadTooLarge, match="20000 queries"):
            await capturer.capture(_large_dashboard(5000), CaptureRequest())
        finished = time.perf_counter()
    finally:
        ticker.cancel()
        await capturer.aclose()
    assert finished - started > 0.1, "the dashboard is too small to tell"
    # On the loop, the ticker could not run at all while planning; off it, it keeps ticking
    # (counted, not timed: a loaded machine stretches the gaps, it does not stop the ticks).
    during = [t for t in ticks if started < t < finished]
    assert len(during) >= 5, (len(during), finished - started)
