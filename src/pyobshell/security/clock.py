"""Time source for the security layer, injectable so tests can move time by hand."""

from __future__ import annotations

import time
from typing import Callable

Clock = Callable[[], float]
"""Returns the current Unix time in seconds."""

system_clock: Clock = time.time
