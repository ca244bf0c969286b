"""The task type of the agent bench's DAG, loaded by the agent through PYOBSHELL_TASK_MODULES.

A module of its own, importing only the engine, so that loading it adds nothing to the memory
of the agent being measured (the bench itself imports the HTTP client).
"""

from __future__ import annotations

from pyobshell.engine import DEFAULT_REGISTRY, Task


class BenchStep(Task):
    """A short step that logs, so the DAG DTO carries nodes, sub-tasks and logs."""

    def execute(self) -> None:
        self.log_info(f"{self.task_name} done")


if "BenchStep" not in DEFAULT_REGISTRY:
    DEFAULT_REGISTRY.register(BenchStep)
