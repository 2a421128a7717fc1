"""The ``capture`` member of a create body, validated into a ``CaptureRequest``.

``true`` captures with every default; an object may give ``datasource`` (a configured name),
``from`` / ``to`` (Grafana time: ``now-6h``, an ISO date, epoch milliseconds as a number or a
string), ``variables`` (template variable overrides: a string, or a list of strings for a
multi-value variable) and ``maxDataPoints``. ``false`` (or ``null``) captures nothing, and
keeps ``[capture] auto`` from capturing too. The member is this server's own, so unlike the
rest of the body its unknown keys are refused: a misspelt ``form`` must not silently capture
the dashboard's default range.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidSnapshot
from .model import CaptureRequest

_KEYS = frozenset({"datasource", "from", "to", "variables", "maxDataPoints"})
MAX_DATA_POINTS = 100_000  # a query asking more is a mistake (Grafana caps steps at 11,000)
_MAX_TEXT = 1024  # a time expression, a datasource name, a variable's value


class CaptureMember:
    """What the body said: ``request`` to capture with, or ``None``; ``declined`` when the
    client sent ``capture: false`` (or ``null``), which also turns ``auto`` off."""

    __slots__ = ("declined", "request")

    def __init__(self, request: CaptureRequest | None, *, declined: bool = False) -> None:
        self.request = request
        self.declined = declined


ABSENT = CaptureMember(None)


def parse_capture_member(body: Mapping[str, Any]) -> CaptureMember:
    """The body's ``capture`` member. Raises ``InvalidSnapshot`` naming the bad field."""
    if "capture" not in body:
        return ABSENT
    value = body["capture"]
    if value is None or value is False:
        return CaptureMember(None, declined=True)
    if value is True:
        return CaptureMember(CaptureRequest())
    if not isinstance(value, dict):
        raise InvalidSnapshot("capture must be true, false or an object")
    unknown = sorted(set(value) - _KEYS)
    if unknown:
        raise InvalidSnapshot(
            f"capture.{unknown[0]} is not a capture option"
            " (datasource, from, to, variables, maxDataPoints)"
        )
    max_points = value.get("maxDataPoints")
    if max_points is not None and (
        isinstance(max_points, bool)
        or not isinstance(max_points, int)
        or not 1 <= max_points <= MAX_DATA_POINTS
    ):
        raise InvalidSnapshot(
            f"capture.maxDataPoints must be an integer from 1 to {MAX_DATA_POINTS}"
        )
    return CaptureMember(
        CaptureRequest(
            datasource=_text(value, "datasource"),
            time_from=_time(value, "from"),
            time_to=_time(value, "to"),
            variables=_variables(value.get("variables")),
            max_data_points=max_points,
        )
    )


def _text(value: dict[str, Any], name: str) -> str | None:
    text = value.get(name)
    if text is None:
        return None
    if not isinstance(text, str) or not text or len(text) > _MAX_TEXT:
        raise InvalidSnapshot(f"capture.{name} must be a non-empty string")
    return text


def _time(value: dict[str, Any], name: str) -> str | None:
    """A Grafana time expression; epoch milliseconds may come as a JSON number."""
    raw = value.get(name)
    if isinstance(raw, int) and not isinstance(raw, bool):
        if raw < 0:
            raise InvalidSnapshot(f"capture.{name} must not be negative")
        return str(raw)
    if raw is not None and not isinstance(raw, str):
        raise InvalidSnapshot(
            f'capture.{name} must be a time such as "now-6h", an ISO date or epoch milliseconds'
        )
    return _text(value, name)


def _variables(raw: Any) -> dict[str, str | list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidSnapshot("capture.variables must be an object of variable names to values")
    variables: dict[str, str | list[str]] = {}
    for name, current in raw.items():
        if isinstance(current, str) and len(current) <= _MAX_TEXT:
            variables[name] = current
        elif isinstance(current, list) and all(
            isinstance(v, str) and len(v) <= _MAX_TEXT for v in current
        ):
            variables[name] = list(current)
        else:
            raise InvalidSnapshot(f"capture.variables.{name} must be a string or a list of strings")
    return variables
