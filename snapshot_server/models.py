"""Records the service hands to and receives from a ``SnapshotStore``.

Times are POSIX seconds (float, UTC). ``expires is None`` means the snapshot never expires.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
"""A view key or deleteKey, as clients may choose them (``generate_key`` makes one)."""
KEY_ALPHABET = string.ascii_letters + string.digits
GENERATED_KEY_LENGTH = 32  # 32 of 62 symbols: ~190 bits
HUNDRED_YEARS = 100 * 365 * 86400  # seconds: the longest a snapshot may be asked to live
HASH_RE = re.compile(r"[0-9a-f]{64}")
"""A deleteKey's SHA-256 in hex: the only form in which a deleteKey is stored."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotMeta:
    """Everything about a snapshot except its dashboard: what listings and deletes return."""

    id: int
    key: str
    delete_key_hash: str
    name: str
    org_id: int
    user_id: int
    external: bool
    external_url: str
    external_delete_url: str
    created: float
    updated: float
    expires: float | None
    etag: str
    password_hash: str = ""
    """"" when the snapshot has no password; otherwise the argon2id PHC string the web layer
    made from it. Stores keep it as opaque text."""

    def is_expired(self, now: float) -> bool:
        """A snapshot is expired from the instant ``expires <= now``: from then on it is absent
        everywhere, whether or not its backend has reclaimed it yet."""
        return self.expires is not None and self.expires <= now

    def fields(self) -> dict[str, Any]:
        """Every field by name: the stored form (read back with ``meta_from_fields``)."""
        return {f: getattr(self, f) for f in META_FIELDS}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A stored snapshot: its metadata, and ``dashboard``, the exact JSON bytes served on view."""

    meta: SnapshotMeta
    dashboard: bytes


@dataclass(frozen=True, slots=True)
class NewSnapshot:
    """What ``SnapshotStore.insert`` takes: the metadata to store, whose ``id`` is the store's to
    choose (``meta.id`` is 0 until then), and the dashboard bytes."""

    meta: SnapshotMeta
    dashboard: bytes

    def stored_as(self, snapshot_id: int) -> SnapshotMeta:
        """The metadata of this record once stored under ``snapshot_id``."""
        return dataclasses.replace(self.meta, id=snapshot_id)


class Unchanged(enum.Enum):
    """The type of ``UNCHANGED``: a field of ``SnapshotChanges`` that ``None`` cannot mark as
    unchanged, because ``None`` is one of its values."""

    UNCHANGED = "UNCHANGED"


UNCHANGED: Final = Unchanged.UNCHANGED
"""``SnapshotChanges.expires`` when the expiry stays (``None`` there means "never expires")."""


@dataclass(frozen=True, slots=True)
class SnapshotChanges:
    """What ``SnapshotStore.update`` changes: ``updated`` always; each other field only when
    given. ``name``, ``password_hash`` and ``etag``: ``None`` leaves the field as it is (a
    ``password_hash`` of ``""`` removes the password). ``expires``: ``UNCHANGED`` leaves it,
    ``None`` makes the snapshot never expire, a time sets it."""

    updated: float
    name: str | None = None
    expires: float | Unchanged | None = UNCHANGED
    password_hash: str | None = None
    etag: str | None = None

    def applied_to(self, meta: SnapshotMeta) -> SnapshotMeta:
        """``meta`` with these changes made: the meta an update stores and returns."""
        return dataclasses.replace(
            meta,
            updated=self.updated,
            name=meta.name if self.name is None else self.name,
            expires=meta.expires if self.expires is UNCHANGED else self.expires,
            password_hash=meta.password_hash if self.password_hash is None else self.password_hash,
            etag=meta.etag if self.etag is None else self.etag,
        )


@dataclass(frozen=True, slots=True)
class ListScope:
    """Whose snapshots a listing shows: every one of ``org_id``'s, or only ``user_id``'s."""

    org_id: int
    user_id: int | None = None  # None: the whole org

    def includes(self, meta: SnapshotMeta) -> bool:
        return meta.org_id == self.org_id and (self.user_id is None or meta.user_id == self.user_id)


@dataclass(frozen=True, slots=True)
class ListQuery:
    """Which page of a listing: names containing ``query`` (compared after ``str.casefold``; no
    wildcards, so ``%`` and ``_`` are literal; ``""`` keeps all), page ``page`` (1-based) of
    ``limit`` items."""

    query: str
    limit: int
    page: int

    @property
    def needle(self) -> str:
        """``query`` casefolded: what a casefolded name must contain."""
        return self.query.casefold()

    @property
    def offset(self) -> int:
        """How many matches come before this page."""
        return (self.page - 1) * self.limit


META_FIELDS: tuple[str, ...] = tuple(
    f
    for f in SnapshotMeta.__dataclass_fields__  # insertion order = declaration order
)

# The type every stored field must have. bool is checked apart from int (it is a subclass).
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "id": (int,),
    "key": (str,),
    "delete_key_hash": (str,),
    "name": (str,),
    "org_id": (int,),
    "user_id": (int,),
    "external": (bool,),
    "external_url": (str,),
    "external_delete_url": (str,),
    "created": (float, int),
    "updated": (float, int),
    "expires": (float, int, type(None)),
    "etag": (str,),
    "password_hash": (str,),
}
# Fields a record written before they existed may lack, and the value they then read as.
_FIELD_DEFAULTS: dict[str, Any] = {"password_hash": ""}
assert tuple(_FIELD_TYPES) == META_FIELDS


class CorruptData(ValueError):
    """Stored data does not read back as a snapshot: corrupt, truncated or foreign.

    Backends log it and treat the record as absent; it never reaches the service.
    """


def json_object(raw: bytes | str, what: str) -> dict[str, Any]:
    """``raw`` parsed as a JSON object. Raises ``CorruptData`` naming ``what`` if it is not one."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CorruptData(f"{what} is not JSON") from exc
    if not isinstance(value, dict):
        raise CorruptData(f"{what} is not a JSON object")
    return value


def meta_from_fields(fields: Mapping[str, Any]) -> SnapshotMeta:
    """A ``SnapshotMeta`` from stored fields, every one checked for presence and type, the key
    and deleteKey hash for their shape. Extra fields are ignored. Raises ``CorruptData``.

    What a backend reads back passes through here (or a check as strict), so a foreign or
    damaged record is refused at the storage boundary instead of failing later in a view.
    """
    values: dict[str, Any] = {}
    for name, types in _FIELD_TYPES.items():
        value = fields.get(name, _FIELD_DEFAULTS.get(name, ...))
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise CorruptData(f"field {name!r} missing or mistyped")
        values[name] = float(value) if isinstance(value, int) and float in types else value
    if not KEY_RE.fullmatch(values["key"]) or not HASH_RE.fullmatch(values["delete_key_hash"]):
        raise CorruptData("bad key or delete_key_hash")
    if values["id"] <= 0:
        raise CorruptData("id is not positive")
    return SnapshotMeta(**values)


# Random bytes map onto KEY_ALPHABET through one ``bytes.translate``: each byte below
# 248 = 4 * 62 names a symbol (byte % 62, so every symbol has exactly four bytes), the bytes
# 248-255 are dropped, so every symbol stays equally likely. One urandom call and one C-level
# translate instead of 32 ``secrets.choice`` calls (a profiled 6% of a create).
_KEY_TABLE = bytes(ord(KEY_ALPHABET[b % len(KEY_ALPHABET)]) if b < 248 else 0 for b in range(256))
_KEY_DROPPED = bytes(range(248, 256))


def generate_key() -> str:
    """A new random view key or deleteKey (``secrets``: unguessable), uniform over
    ``KEY_ALPHABET``."""
    symbols = b""
    while len(symbols) < GENERATED_KEY_LENGTH:
        # 40 bytes lose more than 8 to the drop about once in 300,000 draws: one call suffices.
        symbols += secrets.token_bytes(40).translate(_KEY_TABLE, _KEY_DROPPED)
    return symbols[:GENERATED_KEY_LENGTH].decode("ascii")


def hash_secret(secret: str) -> str:
    """Hex SHA-256 of a deleteKey or token: the only form in which either is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
