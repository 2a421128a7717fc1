"""Generated view keys and deleteKeys: their shape, and that every symbol of the alphabet is
drawn (a mapping that dropped or favoured symbols would show here)."""

from __future__ import annotations

import collections

from snapshot_server.models import GENERATED_KEY_LENGTH, KEY_ALPHABET, KEY_RE, generate_key


def test_a_generated_key_is_a_valid_key_of_the_generated_length() -> None:
    for _ in range(200):
        key = generate_key()
        assert len(key) == GENERATED_KEY_LENGTH
        assert KEY_RE.fullmatch(key)
        assert set(key) <= set(KEY_ALPHABET)


def test_generated_keys_differ() -> None:
    assert len({generate_key() for _ in range(1000)}) == 1000


def test_every_symbol_is_drawn_about_equally_often() -> None:
    counts = collections.Counter("".join(generate_key() for _ in range(4000)))
    expected = 4000 * GENERATED_KEY_LENGTH / len(KEY_ALPHABET)  # ~2065 per symbol
    assert set(counts) == set(KEY_ALPHABET)
    # Binomial spread is ~45 draws; a symbol drawn with 3/4 or 5/4 the odds is far outside.
    assert all(abs(n - expected) < 0.15 * expected for n in counts.values())
