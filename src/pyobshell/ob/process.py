"""Is the observer process of an OB home running? (its pid file, then the process itself)."""

from __future__ import annotations

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
