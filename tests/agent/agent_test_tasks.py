"""Task types for tests that run a real agent process (loaded through PYOBSHELL_TASK_MODULES).

Every run of a task appends one line ``<execute_times> <continued>`` to
``<journal_dir>/<task name>.runs`` (``journal_dir`` is a DAG param), so a test can count how
often each step really executed, across agent restarts.
"""

from __future__ import annotations

import os
from pathlib import Path

from pyobshell.engine import Task, register_task_type

JOURNAL_PARAM = "journal_dir"
RELEASE_FILE = "release"


def journal_dir(task: Task) -> Path:
    return Path(task.context.require_param(JOURNAL_PARAM))


def record_run(task: Task) -> None:
    line = f"{task.execute_times} {int(task.is_continue)}\n"
    with open(journal_dir(task) / f"{task.task_name}.runs", "a") as journal:
        journal.write(line)
        journal.flush()
        os.fsync(journal.fileno())  # the test kills the agent with SIGKILL right after


def runs(directory: Path, name: str) -> list[str]:
    path = directory / f"{name}.runs"
    return path.read_text().splitlines() if path.exists() else []


@register_task_type
class JournalStep(Task):
    """A plain step: runs once; after a crash in the middle it would fail, not run again."""

    can_retry = can_pass = True

    def execute(self) -> None:
        record_run(self)
        self.log_info(f"{self.task_name} ran")


@register_task_type
class LongContinuableStep(Task):
    """Runs until the test creates ``<journal_dir>/release``; may run again after a restart."""

    can_continue = can_retry = True

    def execute(self) -> None:
        record_run(self)
        release = journal_dir(self) / RELEASE_FILE
        while not release.exists():
            self.sleep(0.05)
        self.log_info(f"{self.task_name} released")
