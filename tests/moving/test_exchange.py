"""The export file's lines: any bytes come back exactly, every field travels, and lines that
are not what their place calls for are refused with the reason."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from snapshot_server.models import Snapshot
from snapshot_server.moving.exchange import (
    BadLine,
    check_header,
    header,
    read_line,
    snapshot_line,
    trailer,
)
from tests.support import new_record


@pytest.mark.parametrize(
    "dashboard",
    [bytes(range(256)) * 4, b"", b'{"a":"\\u2028\\n"}\n', "ü✓".encode("utf-16")],
    ids=["every-byte", "empty", "json-with-newline", "utf-16"],
)
def test_any_dashboard_bytes_come_back_exactly(dashboard: bytes) -> None:
    record = new_record(1_700_000_000.5, expires_in=60, dashboard=dashboard)
    meta = dataclasses.replace(record.meta, id=42, updated=1_700_000_100.25, external=True)
    line = snapshot_line(Snapshot(meta, dashboard))
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1  # one line, whatever the dashboard holds
    back = read_line(line)
    assert not isinstance(back, int)
    assert back.dashboard == dashboard
    assert back.meta == dataclasses.replace(meta, id=0)  # the target chooses the id


def test_header_and_end_lines() -> None:
    check_header(header())
    assert read_line(trailer(7)) == 7
    with pytest.raises(BadLine, match="export format version 2 is not one this version reads"):
        check_header(orjson.dumps({"format": "snapshot-server-export", "version": 2}))
    with pytest.raises(BadLine, match="the end line has no valid count"):
        read_line(b'{"end": true, "count": -1}')
    with pytest.raises(BadLine, match="neither a snapshot nor the end line"):
        read_line(b'{"snapshot": []}')
