"""``SnapshotMeta.password_hash`` in the stored form, and ``SnapshotChanges``: what every backend
relies on to read records written before the field existed and to apply an update."""

from __future__ import annotations

import dataclasses

import pytest

from snapshot_server.models import (
    META_FIELDS,
    UNCHANGED,
    CorruptData,
    SnapshotChanges,
    meta_from_fields,
)
from tests.support import new_record

META = new_record(1000.0, "k", expires_in=60).stored_as(7)


def test_password_hash_is_the_last_stored_field_and_round_trips() -> None:
    assert META_FIELDS[-1] == "password_hash"
    locked = dataclasses.replace(META, password_hash="$argon2id$v=19$x")
    assert meta_from_fields(locked.fields()) == locked


def test_a_record_written_before_password_hash_reads_as_no_password() -> None:
    fields = META.fields()
    del fields["password_hash"]
    assert meta_from_fields(fields) == META
    assert meta_from_fields(fields).password_hash == ""


@pytest.mark.parametrize("bad", [None, 1, b"x", ["x"]])
def test_a_mistyped_password_hash_is_corrupt(bad: object) -> None:
    with pytest.raises(CorruptData, match="password_hash"):
        meta_from_fields({**META.fields(), "password_hash": bad})


def test_changes_apply_only_what_they_name() -> None:
    assert SnapshotChanges(5.0).applied_to(META) == dataclasses.replace(META, updated=5.0)
    changed = SnapshotChanges(
        6.0, name="n", expires=None, password_hash="h", etag='"t"'
    ).applied_to(META)
    assert changed == dataclasses.replace(
        META, updated=6.0, name="n", expires=None, password_hash="h", etag='"t"'
    )
    assert SnapshotChanges(7.0, expires=9.0).applied_to(META).expires == 9.0
    assert SnapshotChanges(7.0).expires is UNCHANGED
    locked = dataclasses.replace(META, password_hash="h")
    assert SnapshotChanges(8.0, password_hash="").applied_to(locked).password_hash == ""
    assert SnapshotChanges(8.0).applied_to(locked).password_hash == "h"
