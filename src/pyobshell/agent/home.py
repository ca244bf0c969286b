"""The layout of an agent's home directory and its pid file.

    HOME/run/pyobshell.pid   pid of the running agent
    HOME/log/pyobshell.log   structured log lines (one per event, with the trace id)
    HOME/log/pyobshell.out   stdout/stderr of a daemonized agent
    HOME/pyobshell.db        the local SQLite store (the task engine owns its tables)
    HOME/...                 the key pair (the security layer owns its files)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class AgentHome:
    root: Path

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "pyobshell.pid"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "pyobshell.log"

    @property
    def console_file(self) -> Path:
        return self.log_dir / "pyobshell.out"

    @property
    def store_path(self) -> Path:
        return self.root / "pyobshell.db"

    def create_dirs(self) -> None:
        for directory in (self.root, self.run_dir, self.log_dir):
            directory.mkdir(parents=True, exist_ok=True)

    def read_pid(self) -> int | None:
        """The pid in the pid file, or None when there is no readable pid."""
        try:
            text = self.pid_file.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def running_pid(self) -> int | None:
        """The pid of the agent running in this home, or None (a stale pid file counts as none)."""
        pid = self.read_pid()
        if pid is None or not is_agent_process(pid):
            return None
        return pid

    def write_pid(self, pid: int) -> None:
        tmp = self.pid_file.with_suffix(".tmp")
        tmp.write_text(f"{pid}\n")
        tmp.replace(self.pid_file)

    def remove_pid(self, pid: int | None = None) -> None:
        """Remove the pid file; with ``pid``, only if it still names that process."""
        if pid is not None and self.read_pid() not in (pid, None):
            return
        try:
            self.pid_file.unlink()
        except FileNotFoundError:
            pass


def is_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False


def is_agent_process(pid: int) -> bool:
    """True if ``pid`` is alive and looks like a pyobshell agent (pids get reused)."""
    if pid == os.getpid():
        return True
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return any("pyobshell" in part for part in process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False
