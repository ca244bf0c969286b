"""Task types for the cluster tests, loaded by every agent through PYOBSHELL_TASK_MODULES.

Each run appends ``<pid> <execute_times> <continued>`` to ``<agent home>/cluster_steps/<task name>``,
where the agent home is looked up by the executing agent's ``ip:port`` in the DAG param
``agent_homes``: the file's place and the pid inside prove which agent ran the step.
"""

from __future__ import annotations

import os
from pathlib import Path

from pyobshell.engine import Task, register_task_type

HOMES_PARAM = "agent_homes"
RELEASE_PARAM = "release_file"
STEPS_DIR = "cluster_steps"


def step_file(home: str | Path, name: str) -> Path:
    return Path(home) / STEPS_DIR / name


def record_run(task: Task) -> None:
    home = task.context.require_param(HOMES_PARAM)[str(task.executer_agent)]
    path = step_file(home, task.task_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as journal:
        journal.write(f"{os.getpid()} {task.execute_times} {int(task.is_continue)}\n")
        journal.flush()
        os.fsync(journal.fileno())  # tests kill agents with SIGKILL


def runs(home: str | Path, name: str) -> list[str]:
    path = step_file(home, name)
    return path.read_text().splitlines() if path.exists() else []


@register_task_type
class HomeStep(Task):
    """Records where it ran, then succeeds."""

    can_retry = can_pass = True

    def execute(self) -> None:
        record_run(self)
        self.log_info(f"{self.task_name} ran on {self.executer_agent}")


@register_task_type
class HeldStep(Task):
    """Records where it ran, then waits until the file named by ``release_file`` exists.

    It cannot continue after its agent died: the copy then fails at once, and RETRY (its
    rollback does nothing) runs it again."""

    can_retry = can_rollback = True

    def execute(self) -> None:
        record_run(self)
        release = Path(self.context.require_param(RELEASE_PARAM))
        while not release.exists():
            self.sleep(0.05)
        self.log_info(f"{self.task_name} released on {self.executer_agent}")
