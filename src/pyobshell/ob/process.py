"""Is the observer process of an OB home running? (its pid file, then the process itself)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil

from pyobshell.observer_config import read_pid


def observer_pid(ob_home: Path) -> int | None:
    """The pid of the running observer of ``ob_home``, or None if it is not running."""
    pid = read_pid(ob_home)
    if pid is None:
        return None
    try:
        if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return None
    except psutil.AccessDenied:
        return pid  # it exists, it just belongs to someone else
    except (psutil.NoSuchProcess, ValueError):
        return None
    return pid


def observer_running(ob_home: Path) -> bool:
    return observer_pid(ob_home) is not None


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch, to a clock tick), or None.

    Read from /proc against the uptime: psutil's ``create_time`` adds the start to the boot
    time, which Linux gives in whole seconds, so it can be up to a second early.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        uptime_s = float(Path("/proc/uptime").read_text().split()[0])
        start_ticks = int(stat.rpartition(")")[2].split()[19])  # field 22: starttime
    except (OSError, ValueError, IndexError):
        return None
    return time.time() - uptime_s + start_ticks / os.sysconf("SC_CLK_TCK")
