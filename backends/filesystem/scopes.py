"""The journal's live entries by listing scope: per org and per (org, user), each in id order,
so a listing walks only its scope's entries and stops at the page's end instead of filtering
and sorting every snapshot of the store.

Like the running totals (``usage``), it is fed by the journal's replay (``add``, ``remove``) and
rebuilt with it, so it is exactly as crash-safe as the journal: nothing of it is stored.
"""

from __future__ import annotations

from collections.abc import Iterator

from snapshot_server.models import ListScope, SnapshotMeta

_Scope = tuple[int, int | None]  # (org_id, user_id), user_id None for the whole org


class ScopeIndex:
    def __init__(self) -> None:
        # scope -> {id: entry}, in id order (dicts keep insertion order).
        self._scopes: dict[_Scope, dict[int, SnapshotMeta]] = {}
        # Scopes an entry was added to out of id order (a journal rewritten by hand, say):
        # sorted again when next read. Writers append in id order, so this stays empty.
        self._unsorted: set[_Scope] = set()

    def add(self, meta: SnapshotMeta) -> None:
        for scope in _scopes_of(meta):
            index = self._scopes.setdefault(scope, {})
            if meta.id not in index and index and next(reversed(index)) > meta.id:
                self._unsorted.add(scope)
            index[meta.id] = meta

    def remove(self, meta: SnapshotMeta) -> None:
        """Take back an entry ``add`` took in."""
        for scope in _scopes_of(meta):
            index = self._scopes.get(scope)
            if index is not None:
                index.pop(meta.id, None)
                if not index:
                    del self._scopes[scope]

    def entries(self, scope: ListScope) -> Iterator[SnapshotMeta]:
        """The entries of ``scope`` in id order; valid until the next ``add`` or ``remove``."""
        key = (scope.org_id, scope.user_id)
        index = self._scopes.get(key)
        if index is None:
            return iter(())
        if key in self._unsorted:
            index = self._scopes[key] = dict(sorted(index.items()))
            self._unsorted.discard(key)
        return iter(index.values())


def _scopes_of(meta: SnapshotMeta) -> tuple[_Scope, _Scope]:
    return (meta.org_id, None), (meta.org_id, meta.user_id)
