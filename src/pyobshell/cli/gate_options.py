"""The operator gates of `pyobshell cluster upgrade`, from their command-line spelling to the
upgrade body's fields: ``--soak 10m``, ``--slo-p99 500ms``, ``--slo-errors 1%``.

Pure parsing; a bad value is a ``ValueError`` naming the option and what it accepts."""

from __future__ import annotations

import re
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def duration_s(option: str, text: str, default_unit: str = "s") -> float:
    """``90``, ``90s``, ``10m``, ``1h``, ``500ms`` in seconds (a bare number is in ``default_unit``)."""
    match = _DURATION.match(text or "")
    if match is None:
        raise ValueError(f"{option} {text!r} is not a duration; write e.g. 30s, 10m, 1h or 500ms")
    unit = match.group(2) or default_unit
    return float(match.group(1)) * _UNIT_S[unit]


def error_rate(option: str, text: str) -> float:
    """``1%`` or ``0.01`` as a share of 1, within 0..1."""
    raw = (text or "").strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ValueError(f"{option} {text!r} is not a rate; write e.g. 1% or 0.01") from None
    if not 0 <= value <= 1:
        raise ValueError(f"{option} {text!r} is not between 0 % and 100 %")
    return value


def gate_fields(pause_after: list[str], soak: str | None, hold_before_finalize: bool, slo_p99: str | None,
                slo_errors: str | None, slo_window: str | None) -> dict[str, Any]:
    """The upgrade body's gate fields; only those asked for (no field: the usual DAG)."""
    fields: dict[str, Any] = {}
    if pause_after:
        fields["pause_after_zones"] = list(pause_after)
    if soak:
        fields["soak_s"] = duration_s("--soak", soak)
    if hold_before_finalize:
        fields["hold_before_finalize"] = True
    slo: dict[str, float] = {}
    if slo_p99:
        slo["max_p99_ms"] = duration_s("--slo-p99", slo_p99, default_unit="ms") * 1000
    if slo_errors:
        slo["max_error_rate"] = error_rate("--slo-errors", slo_errors)
    if slo_window:
        if not slo:
            raise ValueError("--slo-window needs --slo-p99 or --slo-errors")
        slo["window_s"] = duration_s("--slo-window", slo_window)
    if slo:
        fields["slo"] = slo
    return fields
