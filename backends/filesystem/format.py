"""On-disk formats of the filesystem backend: records, delete-key index files, the id counter and
the listing journal.

A record file is one header line followed by the exact dashboard bytes::

    snapshot-record/1 <sha256 hex of HEADER> <HEADER>\\n<dashboard bytes>

``HEADER`` is compact JSON (orjson never writes a raw newline) with every ``SnapshotMeta`` field
plus ``dashboard_length`` and ``dashboard_sha256``. The header checksum makes a torn or edited
header detectable; the length makes a truncated body detectable from ``fstat`` alone (used by
listing, which never reads dashboards); the body checksum is verified whenever the dashboard is
returned. Anything that fails a check raises ``CorruptData`` and is never returned as data.

A delete-key index file is ``snapshot-deletekey/1 <key> <id>\\n``; the counter file is
``snapshot-counter/1 <last id>\\n``; a rotation alias file is
``snapshot-alias/1 <old key> <id> <grace deadline>\\n``. All are tiny and only ever
replaced atomically, but are parsed just as strictly.

The journal is a sequence of lines ``<first 16 hex of sha256(PAYLOAD)> <PAYLOAD>\\n`` where
PAYLOAD is ``+`` and the JSON of a record's ``SnapshotMeta`` plus its ``dashboard_length``
(lines of versions before per-org usage lack it; lines of versions before password hashes lack
``password_hash``, read as none), or ``-`` and a removed id. A later ``+`` line of the same id
replaces the entry (an update or a rotate). The
checksum matters: a line torn by a crash and later terminated by the next writer's newline
must not parse as a shorter, valid line (``-12`` from ``-123``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from snapshot_server.models import (
    HASH_RE,
    KEY_RE,
    META_FIELDS,
    CorruptData,
    Snapshot,
    SnapshotMeta,
    json_object,
    meta_from_fields,
)

MAX_HEADER_BYTES = 1 << 20  # name <= 255 chars; URLs are the only other free text

_RECORD_MAGIC = b"snapshot-record/1 "
_INDEX_MAGIC = "snapshot-deletekey/1 "
_COUNTER_MAGIC = "snapshot-counter/1 "
_ALIAS_MAGIC = "snapshot-alias/1 "
_META_KEYS = frozenset(META_FIELDS)
_META_KEYS_BEFORE_PASSWORDS = _META_KEYS - {"password_hash"}


def encode_record(snapshot: Snapshot) -> bytes:
    """The complete file contents for ``snapshot``."""
    header: dict[str, Any] = snapshot.meta.fields()
    header["dashboard_length"] = len(snapshot.dashboard)
    header["dashboard_sha256"] = hashlib.sha256(snapshot.dashboard).hexdigest()
    body = orjson.dumps(header)
    digest = hashlib.sha256(body).hexdigest().encode("ascii")
    return b"".join((_RECORD_MAGIC, digest, b" ", body, b"\n", snapshot.dashboard))


def decode_header(line: bytes) -> tuple[SnapshotMeta, int, str]:
    """Parse a header line (with its ``\\n``) into ``(meta, dashboard_length, dashboard_sha256)``.

    Raises ``CorruptData`` if the line is incomplete, fails its checksum or has a bad field.
    """
    if not line.startswith(_RECORD_MAGIC) or not line.endswith(b"\n"):
        raise CorruptData("missing magic or incomplete header line")
    digest, sep, body = line[len(_RECORD_MAGIC) : -1].partition(b" ")
    if not sep or hashlib.sha256(body).hexdigest().encode("ascii") != digest:
        raise CorruptData("header checksum mismatch")
    header = json_object(body, "header")
    meta = meta_from_fields(header)
    length = header.get("dashboard_length")
    digest_hex = header.get("dashboard_sha256")
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise CorruptData("bad dashboard_length")
    if not isinstance(digest_hex, str) or not HASH_RE.fullmatch(digest_hex):
        raise CorruptData("bad dashboard_sha256")
    return meta, length, digest_hex


def decode_record(data: bytes) -> Snapshot:
    """Parse and fully verify a whole record file. Raises ``CorruptData``."""
    end = data.find(b"\n", 0, MAX_HEADER_BYTES)
    if end < 0:
        raise CorruptData("no header line")
    meta, length, digest_hex = decode_header(data[: end + 1])
    dashboard = data[end + 1 :]
    if len(dashboard) != length:
        raise CorruptData(f"dashboard is {len(dashboard)} bytes, header says {length}")
    if hashlib.sha256(dashboard).hexdigest() != digest_hex:
        raise CorruptData("dashboard checksum mismatch")
    return Snapshot(meta, dashboard)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A journal ``+`` line: a record's metadata and its dashboard's length in bytes (``None``
    in a line written by a version that did not record it)."""

    meta: SnapshotMeta
    dashboard_length: int | None


def encode_journal_add(meta: SnapshotMeta, dashboard_length: int | None) -> bytes:
    """The journal line recording that ``meta``'s record, whose dashboard is
    ``dashboard_length`` bytes long, is (about to be) stored. ``None`` writes the line of older
    versions, without the length."""
    fields = meta.fields()
    if dashboard_length is not None:
        fields["dashboard_length"] = dashboard_length
    return _journal_line(b"+" + orjson.dumps(fields))


def encode_journal_remove(snapshot_id: int) -> bytes:
    """The journal line recording that the record with ``snapshot_id`` is gone."""
    return _journal_line(b"-%d" % snapshot_id)


def decode_journal_line(line: bytes) -> JournalEntry | int:
    """One journal line (without its newline): the entry it adds or the id it removes.

    Raises ``CorruptData`` for a torn or damaged line.
    """
    digest, sep, payload = line.partition(b" ")
    if not sep or hashlib.sha256(payload).hexdigest()[:16].encode("ascii") != digest:
        raise CorruptData("journal line checksum mismatch")
    if payload.startswith(b"-") and payload[1:].isdigit():
        return int(payload[1:])
    if not payload.startswith(b"+"):
        raise CorruptData("unknown journal line")
    header = json_object(payload[1:], "journal line")
    length = header.pop("dashboard_length", None)
    # The checksum already proves the line is as this module wrote it, so only its shape is
    # checked here: replaying 100k lines must stay well under a second.
    if header.keys() == _META_KEYS_BEFORE_PASSWORDS:
        header["password_hash"] = ""
    if header.keys() != _META_KEYS or not (length is None or type(length) is int):
        raise CorruptData("journal line is not a snapshot's metadata")
    return JournalEntry(SnapshotMeta(**header), length)


def _journal_line(payload: bytes) -> bytes:
    return hashlib.sha256(payload).hexdigest()[:16].encode("ascii") + b" " + payload + b"\n"


def encode_index(key: str, snapshot_id: int) -> bytes:
    """The contents of a delete-key index file pointing at ``key``."""
    return f"{_INDEX_MAGIC}{key} {snapshot_id}\n".encode("ascii")


def decode_index(data: bytes) -> str:
    """The view key a delete-key index file points at. Raises ``CorruptData``."""
    text = _decode_line(data, _INDEX_MAGIC)
    key, _, snapshot_id = text.partition(" ")
    if not KEY_RE.fullmatch(key) or not snapshot_id.isdigit():
        raise CorruptData("bad delete-key index")
    return key


@dataclass(frozen=True, slots=True)
class AliasFile:
    """A rotation alias: the old key ``key`` reaches snapshot ``snapshot_id`` (wherever the
    journal says it is) while ``now < grace_until``, once that snapshot has moved away from
    ``key``."""

    key: str
    snapshot_id: int
    grace_until: float


def encode_alias(alias: AliasFile) -> bytes:
    """The contents of a rotation alias file."""
    fields = (alias.key, alias.snapshot_id, repr(alias.grace_until))
    return f"{_ALIAS_MAGIC}{' '.join(map(str, fields))}\n".encode("ascii")


def decode_alias(data: bytes) -> AliasFile:
    """A rotation alias file. Raises ``CorruptData``."""
    parts = _decode_line(data, _ALIAS_MAGIC).split(" ")
    try:
        key, snapshot_id, until = parts
        alias = AliasFile(key, int(snapshot_id), float(until))
    except ValueError as exc:
        raise CorruptData("bad rotation alias") from exc
    if not KEY_RE.fullmatch(key) or not snapshot_id.isdigit():
        raise CorruptData("bad rotation alias")
    return alias


def encode_counter(last_id: int) -> bytes:
    """The contents of the id counter file after handing out ``last_id``."""
    return f"{_COUNTER_MAGIC}{last_id}\n".encode("ascii")


def decode_counter(data: bytes) -> int:
    """The last id handed out. Raises ``CorruptData``."""
    text = _decode_line(data, _COUNTER_MAGIC)
    if not text.isdigit() or len(text) > 30:
        raise CorruptData("bad id counter")
    return int(text)


def _decode_line(data: bytes, magic: str) -> str:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise CorruptData("not ASCII") from exc
    if not text.startswith(magic) or not text.endswith("\n") or text.count("\n") != 1:
        raise CorruptData("missing magic or incomplete line")
    return text[len(magic) : -1]
