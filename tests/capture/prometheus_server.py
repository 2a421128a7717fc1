"""A real Prometheus for the capture tests, holding known data relative to now.

``write_openmetrics`` writes series whose every value is known at every instant (counters with
fixed slopes, a constant gauge, a gauge with NaN samples, a series with no labels but its name);
``promtool tsdb create-blocks-from openmetrics`` turns them into TSDB blocks, and ``prometheus``
serves them on a free loopback port with no scrape targets (nothing is ever added). Debian's
``prometheus`` package ships both binaries; CI installs it, and without it the tests fail there.
"""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support import free_port

STEP_S = 15  # seconds between samples (Grafana's default scrape interval too)
SPAN_S = 8 * 3600  # how far back the data goes
START_TIMEOUT = 30.0
# Counters: the per-second slope of each series (what rate() gives, exactly).
COUNTERS = {'job="api",code="200"': 2.0, 'job="api",code="500"': 0.5}
GAUGE = 21.5  # capture_temperature_celsius{room="lab"}
SINGLETON = 7.0  # capture_singleton, no labels
NAN_EVERY = 4  # capture_flaky{probe="a"} is NaN at every 4th sample (each whole minute), else 1


@dataclass(frozen=True, slots=True)
class PromData:
    """What was written: samples every ``STEP_S`` seconds from ``first_s`` to ``last_s``
    (epoch seconds, multiples of 60)."""

    first_s: int
    last_s: int


def write_openmetrics(path: Path, now_s: float) -> PromData:
    last = int(now_s) // 60 * 60
    first = last - SPAN_S
    times = range(first, last + 1, STEP_S)
    lines = ["# TYPE capture_requests counter"]
    for labels, slope in COUNTERS.items():
        lines += [f"capture_requests_total{{{labels}}} {slope * (t - first)} {t}" for t in times]
    lines.append("# TYPE capture_temperature_celsius gauge")
    lines += [f'capture_temperature_celsius{{room="lab"}} {GAUGE} {t}' for t in times]
    lines.append("# TYPE capture_singleton gauge")
    lines += [f"capture_singleton {SINGLETON} {t}" for t in times]
    lines.append("# TYPE capture_flaky gauge")
    lines += [
        f'capture_flaky{{probe="a"}} {"NaN" if (t // STEP_S) % NAN_EVERY == 0 else 1} {t}'
        for t in times
    ]
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")
    return PromData(first_s=first, last_s=last)


class PrometheusServer:
    """``prometheus`` serving the blocks made from ``write_openmetrics`` in ``directory``.
    ``start`` returns once ``/-/ready`` answers 200; ``stop`` ends the process by its PID."""

    def __init__(self, directory: Path, prometheus: str, promtool: str) -> None:
        self.directory = directory
        self.prometheus = prometheus
        self.promtool = promtool
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.data: PromData | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def load(self, now_s: float) -> PromData:
        data_dir = self.directory / "tsdb"
        data_dir.mkdir(parents=True, exist_ok=True)
        source = self.directory / "data.om"
        self.data = write_openmetrics(source, now_s)
        subprocess.run(
            [
                self.promtool,
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                str(source),
                str(data_dir),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        return self.data

    def start(self) -> None:
        config = self.directory / "prometheus.yml"
        config.write_text("global:\n  evaluation_interval: 1h\n")  # no scrape_configs
        argv = [
            self.prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.directory / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=100y",  # the data is hours old, never dropped
            "--log.level=warn",
        ]
        with (self.directory / "prometheus.log").open("wb") as log:  # the child keeps its copy
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self._log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"prometheus not ready in {START_TIMEOUT:g} s: {self._log()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def _log(self) -> str:
        return (self.directory / "prometheus.log").read_text(errors="replace")[-2000:]
