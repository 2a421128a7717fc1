"""Walking a dashboard's panels, and which datasource each target of a panel names.

Nothing here does I/O; planning and embedding both walk panels through :func:`iter_panels`, so
a panel's index means the same panel to both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .variables import Variable, interpolate

__all__ = ["interpolate_ref", "is_mixed", "is_prometheus_ref", "iter_panels", "target_datasource"]

_MIXED = "-- Mixed --"


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(index, panel)`` of every non-row panel, nested ones included, in dashboard order.

    The panels yielded are the dashboard's own objects (embedding rewrites them in place on a
    copy); ``index`` counts them from 0 and is what ``PlannedQuery.panel_index`` refers to.
    """
    yield from enumerate(_walk(dashboard))


def _walk(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    containers = [dashboard.get("panels")]
    rows = dashboard.get("rows")
    if isinstance(rows, list):
        containers.extend(row.get("panels") for row in rows if isinstance(row, dict))
    for container in containers:
        if not isinstance(container, list):
            continue
        for panel in container:
            if not isinstance(panel, dict):
                continue
            if panel.get("type") == "row":
                nested = panel.get("panels")
                if isinstance(nested, list):
                    yield from (child for child in nested if isinstance(child, dict))
                continue
            yield panel


def target_datasource(
    panel_ref: object, target: Mapping[str, Any], variables: Mapping[str, Variable]
) -> object:
    """The datasource reference a target runs on: its own when it names one, else its panel's
    (``panel_ref``, already interpolated), else (in a mixed panel) ``None``, the default."""
    ref = target.get("datasource")
    if ref is not None:
        return interpolate_ref(ref, variables)
    return None if is_mixed(panel_ref) else panel_ref


def interpolate_ref(ref: object, variables: Mapping[str, Variable]) -> object:
    """A datasource reference with ``$ds`` / ``${DS_PROM}`` resolved to the variable's value."""
    if isinstance(ref, str):
        return _raw(ref, variables) if "$" in ref or "[[" in ref else ref
    if isinstance(ref, Mapping):
        uid = ref.get("uid")
        if isinstance(uid, str) and ("$" in uid or "[[" in uid):
            return {**ref, "uid": _raw(uid, variables)}
    return ref


def _raw(text: str, variables: Mapping[str, Variable]) -> str:
    return interpolate(text, _FirstValues(variables))


class _FirstValues(Mapping[str, Variable]):
    """``variables`` as a datasource reference reads them: a datasource variable names one
    datasource, its value verbatim, not regex-escaped. Converted on lookup, not up front: a
    copy of every variable for every reference was quadratic (20,000 variables and 2,000
    references, a 1 MB body, held the event loop for 90 s)."""

    def __init__(self, variables: Mapping[str, Variable]) -> None:
        self._variables = variables

    def __getitem__(self, name: str) -> Variable:
        v = self._variables[name]
        return Variable(v.name, v.values[:1], v.texts[:1], False, False, False, None, ())

    def __iter__(self) -> Iterator[str]:
        return iter(self._variables)

    def __len__(self) -> int:
        return len(self._variables)


def is_mixed(ref: object) -> bool:
    if isinstance(ref, Mapping):
        return ref.get("uid") == _MIXED or ref.get("type") == "mixed"
    return ref == _MIXED


def is_prometheus_ref(ref: object) -> bool:
    if isinstance(ref, Mapping):
        return ref.get("type") in (None, "prometheus")
    return ref is None or isinstance(ref, str)
