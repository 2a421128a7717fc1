"""Cost of the snapshot page for the two worst cases of the viewer report: a ~45 MB dashboard
of 20,000 panels and a 5.3 MB markdown panel. Each scenario runs against a fresh server process
(memory backend), so every first view is a real render and peak RSS belongs to that scenario.

    python -m bench.viewer            # prints one line per scenario

Columns: wall time of the view(s), page bytes, the server's RSS after the views and its peak
RSS during them (the peak is reset after the snapshot is created, so creating it does not count).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

from bench.servers import HEADERS, start_server
from tests.viewer.dashboards import many_panels_dashboard, markdown_dashboard


def rss_mb(pid: int) -> tuple[float, float]:
    """``(current, peak)`` resident set size of ``pid`` in MB, from /proc."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def reset_peak(pid: int) -> None:
    """Reset ``pid``'s peak RSS (VmHWM) to its current RSS (Linux: ``clear_refs`` value 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def scenario(name: str, body: bytes, views: int, repeat: bool) -> None:
    with tempfile.TemporaryDirectory() as directory:
        server = await start_server("memory", directory, "")
        base = server.base_url
        assert server.process is not None
        pid = server.process.pid
        try:
            timeout = aiohttp.ClientTimeout(total=600)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.post(
                    f"{base}api/snapshots", data=body, headers=HEADERS
                ) as response:
                    assert response.status == 200, await response.text()
                    url = f"{base}dashboard/snapshot/{(await response.json())['key']}"
                before, _ = rss_mb(pid)
                reset_peak(pid)

                async def view() -> int:
                    async with session.get(url) as page:
                        assert page.status == 200, page.status
                        return len(await page.read())

                started = time.perf_counter()
                sizes = await asyncio.gather(*(view() for _ in range(views)))
                first = time.perf_counter() - started
                after, peak = rss_mb(pid)
                again = ""
                if repeat:
                    started = time.perf_counter()
                    await view()
                    again = f"  next view {time.perf_counter() - started:6.2f} s"
                print(
                    f"{name:<28} {views} view(s) {first:6.2f} s  page {max(sizes) / 1e6:7.2f} MB"
                    f"  RSS {before:5.0f} -> {after:5.0f} MB (peak {peak:5.0f} MB){again}",
                    flush=True,
                )
        finally:
            await server.stop()


async def main() -> None:
    panels = orjson.dumps({"dashboard": many_panels_dashboard(), "expires": 3600})
    markdown = orjson.dumps({"dashboard": markdown_dashboard(), "expires": 3600})
    print(f"20,000 panels: {len(panels) / 1e6:.1f} MB body; markdown: {len(markdown) / 1e6:.1f} MB")
    await scenario("20,000 panels", panels, 1, repeat=True)
    await scenario("20,000 panels, 3 parallel", panels, 3, repeat=False)
    await scenario("5.3 MB markdown", markdown, 1, repeat=True)


if __name__ == "__main__":
    asyncio.run(main())
