"""The script process of a sub-task's current attempt, recorded on disk beside the agent.

An agent killed while a script runs leaves the script running: it was started in its own
process group, and nothing else ends it. Before the sub-task runs the script again (after the
agent restarts, or on RETRY), the record says which process that was, so the earlier attempt
is ended first and two copies of one upgrade script never talk to the cluster at once.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from pyobshell.ob.process import process_start_time

START_TIME_SLACK_S = 1.0  # start times are read to a clock tick; a later process with the same pid differs more
TERM_GRACE_S = 10.0


class ScriptStillRunning(Exception):
    """The previous attempt's script could not be ended: running another copy is not safe."""


@dataclass(frozen=True)
class ScriptProcess:
    pid: int  # also its process group: scripts start in a session of their own
    started: float  # when it started (seconds since the epoch), to tell it from a reused pid
    script: str


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return ""


def is_running(process: ScriptProcess) -> bool:
    """True while that very process (not a later one with its pid) is alive and not a zombie."""
    started = process_start_time(process.pid)
    if started is None or abs(started - process.started) > START_TIME_SLACK_S:
        return False
    return _state(process.pid) not in ("", "Z", "X")


class ScriptProcessRecord:
    """One file per sub-task under the agent's home: written when the script starts, removed
    when the attempt ends."""

    def __init__(self, directory: Path, task_id: int):
        self.path = directory / f"subtask-{task_id}.json"

    def save(self, pid: int, script: str) -> None:
        started = process_start_time(pid) or time.time()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(ScriptProcess(pid, started, script))))
        os.replace(temporary, self.path)

    def load(self) -> ScriptProcess | None:
        try:
            raw = json.loads(self.path.read_text())
            return ScriptProcess(int(raw["pid"]), float(raw["started"]), str(raw["script"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def end_previous(record: ScriptProcessRecord, sleep: Callable[[float], None] = time.sleep) -> str | None:
    """End the previous attempt's script if it still runs; what happened, for the log (None
    when there was no previous attempt on record)."""
    previous = record.load()
    if previous is None:
        record.clear()
        return None
    if not is_running(previous):
        record.clear()
        return f"the previous attempt's {previous.script} (pid {previous.pid}) had already ended"
    how = "SIGTERM"
    _signal_group(previous.pid, signal.SIGTERM)
    deadline = time.monotonic() + TERM_GRACE_S
    while is_running(previous) and time.monotonic() < deadline:
        sleep(0.1)
    if is_running(previous):
        how = f"SIGKILL (it ignored SIGTERM for {TERM_GRACE_S:g} s)"
        _signal_group(previous.pid, signal.SIGKILL)
        while is_running(previous) and time.monotonic() < deadline + TERM_GRACE_S:
            sleep(0.1)
    if is_running(previous):
        raise ScriptStillRunning(f"the previous attempt's {previous.script} (pid {previous.pid}) survived "
                                 "SIGTERM and SIGKILL; end it by hand, then retry")
    record.clear()
    return (f"the previous attempt's {previous.script} (pid {previous.pid}) was still running: "
            f"ended its process group with {how}")


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
