"""The benchmark's table: one row per scenario and server, the medians over the rounds, each
row held to the target issue 12 set for it (``judge``), as text and as markdown."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bench.wrk import WrkResult

REFERENCE = "reference"
TAIL = 4.0  # p99 <= 4 x p50 in every run with a throughput target
LIST_P50_MS = 10.0
RSS_LIMIT_MB = 300.0
CLEANUP_P99_FACTOR = 2.0

# Least ratio to the ceiling per scenario (and backend, where the issue names one).
RATIO_TARGETS: dict[tuple[str, str | None], float] = {
    ("get-hot-20k", None): 0.8,
    ("get-hot-1m", None): 0.8,
    ("get-cold", None): 0.35,
    ("post-20k", "sqlite"): 0.35,
    ("post-20k", "redis"): 0.45,
}


@dataclass(frozen=True)
class Row:
    scenario: str
    backend: str
    rps: float
    p50_ms: float
    p99_ms: float
    ratio: float | None  # to the reference in the same round (median over rounds)
    failed: str = ""  # why some run did not count
    target: str = ""
    verdict: str = ""  # PASS, MISS, FAIL (a run was invalid) or "" (no target)
    note: str = ""

    @property
    def tail(self) -> float:
        return self.p99_ms / self.p50_ms if self.p50_ms else float("nan")


def ratio_target(scenario: str, backend: str) -> float | None:
    return RATIO_TARGETS.get((scenario, backend), RATIO_TARGETS.get((scenario, None)))


def judge(scenario: str, backend: str, ratio: float, p50: float, p99: float) -> tuple[str, bool]:
    """The issue's target for a wrk row, and whether the measured row meets it ("" when the
    issue sets none)."""
    if scenario == "list-100k":
        return f"p50 <= {LIST_P50_MS:g} ms", p50 <= LIST_P50_MS
    least = ratio_target(scenario, backend)
    if least is None:
        return "", True
    met = ratio >= least and p99 <= TAIL * p50
    return f">= {least:g} x ceiling, p99 <= {TAIL:g} x p50", met


def wrk_rows(
    scenario: str, runs: dict[str, list[WrkResult]], reference: list[WrkResult]
) -> list[Row]:
    """One row per server of ``runs`` (backend -> one result per round) and one for the
    reference: medians over the rounds; ratios are taken round by round, then the median."""
    rows = [_median_row(scenario, REFERENCE, reference, [1.0] * len(reference))]
    for backend, results in runs.items():
        ratios = [
            r.rps / ref.rps if ref.rps else 0.0 for r, ref in zip(results, reference, strict=True)
        ]
        row = _median_row(scenario, backend, results, ratios)
        target, met = judge(scenario, backend, row.ratio or 0.0, row.p50_ms, row.p99_ms)
        verdict = "FAIL" if row.failed else ("PASS" if met else "MISS") if target else ""
        rows.append(Row(**{**row.__dict__, "target": target, "verdict": verdict}))
    return rows


def _median_row(
    scenario: str, backend: str, results: Sequence[WrkResult], ratios: Sequence[float]
) -> Row:
    failed = "; ".join(sorted({r.failed for r in results if r.failed}))
    return Row(
        scenario=scenario,
        backend=backend,
        rps=statistics.median(r.rps for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        ratio=statistics.median(ratios) if backend != REFERENCE else None,
        failed=failed,
    )


HEADER = ("scenario", "server", "req/s", "p50 ms", "p99 ms", "p99/p50", "ratio", "target", "")


def _cells(row: Row) -> tuple[str, ...]:
    return (
        row.scenario,
        row.backend,
        f"{row.rps:,.0f}" if row.rps else "-",
        f"{row.p50_ms:.2f}" if row.p50_ms else "-",
        f"{row.p99_ms:.2f}" if row.p99_ms else "-",
        f"{row.tail:.1f}" if row.p50_ms and row.p99_ms else "-",
        f"{row.ratio:.2f}" if row.ratio is not None else "-",
        row.target,
        " ".join(x for x in (row.verdict, row.failed, row.note) if x),
    )


def text_table(rows: Sequence[Row]) -> str:
    table = [HEADER, *(_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(w) if i in (0, 1, 7, 8) else cell.rjust(w)
                  for i, (cell, w) in enumerate(zip(line, widths, strict=True))).rstrip()
        for line in table
    )  # fmt: skip


def markdown_table(rows: Sequence[Row]) -> str:
    lines = [
        "| " + " | ".join(HEADER[:-1]) + " | verdict |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in _cells(r)) + " |" for r in rows]
    return "\n".join(lines)
