"""A number of seconds from the environment: the one rule the agent's settings share."""

from __future__ import annotations

import math
from collections.abc import Mapping


def seconds(values: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0,
            maximum: float = math.inf, error: type[ValueError] = ValueError) -> float:
    """``values[name]`` as seconds within [minimum, maximum], ``default`` when unset or empty;
    anything else raises ``error`` naming the variable and what it holds."""
    raw = values.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise error(f"{name}={raw!r} is not a number of seconds") from None
    if not math.isfinite(value) or not minimum <= value <= maximum:
        bounds = f"at least {minimum:g}" if maximum == math.inf else f"between {minimum:g} and {maximum:g}"
        raise error(f"{name}={raw!r} must be {bounds} seconds")
    return value
