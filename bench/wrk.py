"""Driving a server with ``wrk`` (Debian package ``wrk``): the Lua script of each scenario, the
run, and its result, which the scripts' ``done()`` prints as one JSON line.

Every script shares ``DONE``: wrk's summary as JSON (latencies in microseconds). Any socket
error or non-2xx answer (wrk counts status >= 400 as ``errors.status``) makes a run invalid:
``WrkResult.failed`` says why.
"""

from __future__ import annotations

import asyncio
import json
import signal
from dataclasses import dataclass
from pathlib import Path

THREADS = 2
CONNECTIONS = 64
MARK = "WRKJSON "

DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,'
    .. '"p99_us":%d,"max_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""

# Per-thread ids, so each thread walks its own part of a key list.
THREAD_IDS = """
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
"""


def _read_file(name: str, path: Path) -> str:
    return f'local f = assert(io.open("{path}", "rb"))\n{name} = f:read("*a")\nf:close()\n'


def get_script() -> str:
    """GET of the URL's path, as it is."""
    return DONE


def post_script(body: Path, token: str) -> str:
    """POST of the file ``body`` to the URL's path."""
    return (
        _read_file("wrk.body", body)
        + f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n' + DONE
    )


def authorized_get_script(token: str) -> str:
    """GET of the URL's path with a token (the listing)."""
    return f'wrk.headers["Authorization"] = "Bearer {token}"\n' + DONE


def cold_get_script(keys: Path) -> str:
    """GET /api/snapshots/KEY, a different key of the file ``keys`` each request; the threads
    start far apart in the list, so no key repeats until the list is used up."""
    return (
        THREAD_IDS
        + _read_file("local text", keys)
        + """
local keys = {}
for key in text:gmatch("%S+") do keys[#keys + 1] = key end
local i = 0
function init(args)
  i = (id or 0) * math.floor(#keys / 2)
end
function request()
  i = i + 1
  return wrk.format("GET", "/api/snapshots/" .. keys[(i % #keys) + 1])
end
"""
        + DONE
    )


def mixed_script(get_path: str, body: Path, token: str) -> str:
    """Nine GETs of ``get_path`` to one POST of ``body`` to /api/snapshots."""
    return (
        _read_file("local body", body)
        + f"""
local post_headers = {{["Content-Type"] = "application/json",
                      ["Authorization"] = "Bearer {token}"}}
local n = 0
function request()
  n = n + 1
  if n % 10 == 0 then
    return wrk.format("POST", "/api/snapshots", post_headers, body)
  end
  return wrk.format("GET", "{get_path}")
end
"""
        + DONE
    )


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    non_2xx: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> str:
        """Why the run does not count ("" if it does)."""
        reasons = []
        if self.non_2xx:
            reasons.append(f"{self.non_2xx} non-2xx")
        if self.socket_errors:
            reasons.append(f"{self.socket_errors} socket errors")
        if not self.requests:
            reasons.append("no requests")
        return ", ".join(reasons)


def parse_output(stdout: str) -> WrkResult:
    """The result a ``DONE`` line in wrk's output reports. Raises ``ValueError`` without one."""
    for line in stdout.splitlines():
        if line.startswith(MARK):
            data = json.loads(line[len(MARK) :])
            break
    else:
        raise ValueError(f"no {MARK.strip()} line in wrk's output:\n{stdout[-2000:]}")
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        non_2xx=data["status"],
    )


async def run_wrk(
    url: str,
    script: Path,
    duration: float,
    *,
    stop: asyncio.Event | None = None,
    threads: int = THREADS,
    connections: int = CONNECTIONS,
) -> WrkResult:
    """``wrk -t2 -c64`` against ``url`` with ``script`` for ``duration`` seconds, or until
    ``stop`` is set (wrk then ends its run with SIGINT and still reports)."""
    process = await asyncio.create_subprocess_exec(
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
        "--timeout", "10s", "-s", str(script), url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output = asyncio.ensure_future(process.communicate())
    if stop is not None:
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({output, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not output.done():
            process.send_signal(signal.SIGINT)
        stopped.cancel()
    stdout, _ = await output
    return parse_output(stdout.decode(errors="replace"))
