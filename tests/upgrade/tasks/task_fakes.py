"""Fakes for the upgrade task tests: a scripted observer (SQL) and a runner that executes a
task directly, in the test's thread, collecting its log."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pyobshell.engine import AgentInfo, Operator, Task, TaskContext
from pyobshell.errors import MYSQL_ERROR, ObshellError
from pyobshell.upgrade.environment import UpgradeTimings

AGENT = AgentInfo("127.0.0.1", 2886)
FAST = UpgradeTimings(poll_first_s=0.005, poll_max_s=0.02, zone_wait_s=0.5, leader_drain_wait_s=0.3,
                      observer_exit_wait_s=5,
                      observer_start_wait_s=20, cluster_ready_wait_s=0.5, freeze_wait_s=0.5, script_timeout_s=7,
                      command_timeout_s=30)

Answer = Any  # rows, an exception to raise, or a callable(args) returning either


@dataclass
class FakeObserver:
    """SQL as root@sys: answers are matched by a regular expression on the statement; a list
    answer is consumed one entry per call (the last one repeats)."""

    answers: list[tuple[re.Pattern[str], Any]] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)

    def on(self, pattern: str, *answers: Answer) -> "FakeObserver":
        self.answers.append((re.compile(pattern, re.IGNORECASE), list(answers)))
        return self

    def _answer(self, sql: str, args: Any) -> Any:
        self.statements.append(sql if args is None else f"{sql} {tuple(args)}")
        for pattern, queue in self.answers:
            if pattern.search(sql):
                answer = queue.pop(0) if len(queue) > 1 else queue[0]
                if callable(answer):
                    answer = answer(args)
                if isinstance(answer, BaseException):
                    raise answer
                return answer
        return []

    def query(self, sql: str, args: Any = None) -> list[dict[str, Any]]:
        return self._answer(sql, args)

    def execute(self, sql: str, args: Any = None) -> int:
        self._answer(sql, args)
        return 0


def sql_error(errno: int, message: str) -> ObshellError:
    return ObshellError(MYSQL_ERROR, f"({errno}) {message}")


@dataclass
class Ran:
    task: Task
    logs: list[str]

    @property
    def context(self) -> TaskContext:
        return self.task.context

    def log_text(self) -> str:
        return "\n".join(self.logs)


def run_task(task: Task, params: dict[str, Any] | None = None, context: TaskContext | None = None, *,
             agent: AgentInfo = AGENT, operator: Operator = Operator.RUN, is_continue: bool = False) -> Ran:
    """Execute (or roll back) ``task`` as the engine would, in this thread."""
    logs: list[str] = []
    context = context or TaskContext()
    for key, value in (params or {}).items():
        context.set_param(key, value)
    task.bind(task_id=1, operator=operator, execute_times=1, agent=agent, context=context,
              is_continue=is_continue, log_sink=logs.append)
    ran = Ran(task, logs)
    try:
        if operator == Operator.ROLLBACK:
            task.rollback()
        else:
            task.execute()
    except BaseException as exc:
        exc.ran = ran  # type: ignore[attr-defined]  # lets a test read the log of a failed run
        raise
    return ran
