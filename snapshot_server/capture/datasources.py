"""Which configured datasource serves a dashboard's datasource reference, and which panels
already carry data of their own (``[capture] auto`` leaves those alone).

A reference maps to the ``[[capture.datasources]]`` entry that lists its uid (or, for a plain
string, its name) in ``uids``, or whose ``name`` it is. No reference, a Prometheus reference
without a uid, and a ``${DS_...}`` input left unresolved (a dashboard exported for sharing)
take the default entry. Anything else is not ours: its panel is left as it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from .model import CapturePlan, DatasourceTarget, PlannedQuery
from .panels import iter_panels
from .settings import CaptureSettings, DatasourceSettings


class DatasourceResolver:
    """The mapping of one capture (the plan's ``resolve``), over ``settings.datasources``."""

    def __init__(self, settings: CaptureSettings) -> None:
        self._by_name = {d.name: d for d in settings.datasources}
        self._by_uid = {uid: d for d in settings.datasources for uid in d.uids}
        self._default = settings.default_datasource

    def resolve(self, ref: Any) -> DatasourceTarget | None:
        settings = self._settings_for(ref)
        return None if settings is None else _target(settings)

    def settings_of(self, query: PlannedQuery) -> DatasourceSettings:
        """The entry a planned query runs on (it was planned from this resolver)."""
        return self._by_name[query.datasource.name]

    def _settings_for(self, ref: Any) -> DatasourceSettings | None:
        if ref is None:
            return self._default
        if isinstance(ref, str):
            if not ref or _unresolved(ref):
                return self._default
            return self._by_name.get(ref) or self._by_uid.get(ref)
        if isinstance(ref, Mapping):
            uid = ref.get("uid")
            if isinstance(uid, str) and uid and not _unresolved(uid):
                return self._by_uid.get(uid)
            if ref.get("type") in (None, "prometheus"):
                return self._default
        return None


def _unresolved(text: str) -> bool:
    """A ``${DS_PROMETHEUS}`` input (or ``$datasource`` variable) nothing gave a value."""
    return text.startswith("$")


def _target(settings: DatasourceSettings) -> DatasourceTarget:
    return DatasourceTarget(settings.name, settings.scrape_interval_ms)


def without_panels_with_data(dashboard: Mapping[str, Any], plan: CapturePlan) -> CapturePlan:
    """``plan`` without the queries of panels that already hold data: a legacy
    ``snapshotData``, or a target carrying ``snapshot`` frames (what Grafana's UI embeds)."""
    with_data = {index for index, panel in iter_panels(dashboard) if _has_data(panel)}
    queries = tuple(q for q in plan.queries if q.panel_index not in with_data)
    if len(queries) == len(plan.queries):
        return plan
    panels = len({q.panel_index for q in queries})
    return dataclasses.replace(plan, queries=queries, panels=panels)


def _has_data(panel: Mapping[str, Any]) -> bool:
    if panel.get("snapshotData"):
        return True
    targets = panel.get("targets")
    return isinstance(targets, list) and any(
        isinstance(t, Mapping) and ("snapshot" in t or t.get("queryType") == "snapshot")
        for t in targets
    )
