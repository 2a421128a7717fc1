"""The export file (``snapshot-server export`` writes it, ``import`` reads it): JSON lines.

    {"format": "snapshot-server-export", "version": 1}                      the header
    {"snapshot": {every SnapshotMeta field}, "dashboard": "<base64>"}      one per snapshot
    {"end": true, "count": N}                                              the trailer

A snapshot line holds every metadata field by name (``SnapshotMeta.fields``: fields added later
travel without a change here), ``id`` being the source's (the target chooses its own), and the
exact dashboard bytes in base64, so they come back byte for byte whatever they hold. Secrets
appear only as the hashes the store keeps (``delete_key_hash``). The trailer's count lets
``import`` tell a complete file from a truncated one.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from typing import Any

import orjson

from ..models import CorruptData, NewSnapshot, Snapshot, json_object, meta_from_fields

FORMAT = "snapshot-server-export"
VERSION = 1


class BadLine(ValueError):
    """A line of an export file that is not what its place calls for; the message says why."""


def header() -> bytes:
    return orjson.dumps({"format": FORMAT, "version": VERSION}) + b"\n"


def trailer(count: int) -> bytes:
    return orjson.dumps({"end": True, "count": count}) + b"\n"


def snapshot_line(snapshot: Snapshot) -> bytes:
    """One snapshot as a line: its metadata and its dashboard's exact bytes."""
    fields: dict[str, Any] = snapshot.meta.fields()
    dashboard = base64.b64encode(snapshot.dashboard).decode("ascii")
    return orjson.dumps({"snapshot": fields, "dashboard": dashboard}) + b"\n"


def check_header(line: bytes) -> None:
    """Raise ``BadLine`` unless ``line`` is the header of a file this version reads."""
    try:
        value = json_object(line, "the first line")
    except CorruptData as exc:
        raise BadLine(f"not a snapshot-server export: {exc}") from None
    if value.get("format") != FORMAT:
        raise BadLine("not a snapshot-server export: the first line is not its header")
    if value.get("version") != VERSION:
        raise BadLine(
            f"export format version {value.get('version')!r} is not one this version reads "
            f"({VERSION})"
        )


def read_line(line: bytes) -> NewSnapshot | int:
    """A snapshot line as the record to insert (``meta.id`` 0, the source's id dropped), or
    a trailer line as its count. Raises ``BadLine``."""
    try:
        value = json_object(line, "the line")
    except CorruptData as exc:
        raise BadLine(str(exc)) from None
    if value.get("end") is True:
        count = value.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise BadLine("the end line has no valid count")
        return count
    fields, dashboard = value.get("snapshot"), value.get("dashboard")
    if not isinstance(fields, dict) or not isinstance(dashboard, str):
        raise BadLine("neither a snapshot nor the end line")
    try:
        meta = meta_from_fields(fields)
    except CorruptData as exc:
        raise BadLine(f"snapshot metadata: {exc}") from None
    try:
        body = base64.b64decode(dashboard, validate=True)
    except (binascii.Error, ValueError):
        raise BadLine(f"snapshot {meta.key}: dashboard is not valid base64") from None
    return NewSnapshot(dataclasses.replace(meta, id=0), body)
