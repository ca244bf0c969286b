"""Test-only task types and helpers for the engine tests.

The task types record what they did in a shared journal and read their behaviour (fail,
block) from a shared :class:`Script`, so tests can steer runs that happen in worker threads.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from pyobshell.engine import AgentInfo, Task, TaskEngine, TaskRegistry, TaskStore, WaitOperator
from pyobshell.wire.task import DagDetailDTO
from pyobshell.engine.schema import StoreKind

OWNER = AgentInfo("127.0.0.1", 2886)


@dataclass(frozen=True)
class StoreTarget:
    url: str
    kind: StoreKind


AGENTS = [AgentInfo("127.0.0.1", 2886), AgentInfo("127.0.0.2", 2886), AgentInfo("127.0.0.3", 2886)]


@dataclass
class Script:
    """What test tasks do; shared by all worker threads of one test."""

    journal: list[str] = field(default_factory=list)
    fail: set[str] = field(default_factory=set)  # "name" or "name@ip" that should fail
    release: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)
    cancel_hooks: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, entry: str) -> None:
        with self.lock:
            self.journal.append(entry)

    def should_fail(self, name: str, agent: AgentInfo) -> bool:
        with self.lock:
            return name in self.fail or f"{name}@{agent.ip}" in self.fail

    def entries(self, prefix: str = "") -> list[str]:
        with self.lock:
            return [e for e in self.journal if e.startswith(prefix)]


SCRIPT = Script()


class Step(Task):
    """Records execute/rollback, passes a counter along the context, fails when scripted."""

    can_cancel = can_retry = can_rollback = can_pass = True

    def execute(self) -> None:
        SCRIPT.record(f"execute:{self.task_name}@{self.executer_agent.ip}")
        self.log_info(f"step {self.task_name} runs")
        self.context.set_data("steps", self.context.get_data("steps", []) + [self.task_name])
        self.set_local_data("ran", self.task_name)
        if SCRIPT.should_fail(self.task_name, self.executer_agent):
            raise RuntimeError(f"scripted failure of {self.task_name}")

    def rollback(self) -> None:
        SCRIPT.record(f"rollback:{self.task_name}@{self.executer_agent.ip}")
        self.log_info(f"step {self.task_name} rolled back")

    def get_additional_data(self) -> dict[str, object] | None:
        return {"ran": [self.task_name]} if self.context.get_data("steps") else None


class Rigid(Step):
    """A step that allows no operator at all."""

    can_cancel = can_retry = can_rollback = can_pass = False


class Blocking(Task):
    """Blocks until released; the cancel hook releases it, as a hook killing a process would."""

    can_cancel = can_retry = can_rollback = can_pass = True

    def execute(self) -> None:
        SCRIPT.record(f"execute:{self.task_name}")
        SCRIPT.started.set()
        while not SCRIPT.release.is_set():
            self.sleep(0.01)
        self.log_info("released")

    def cancel(self) -> None:
        SCRIPT.cancel_hooks.append(self.task_name)


class BlockingContinuable(Blocking):
    can_continue = True


class Uncancellable(Blocking):
    can_cancel = False


class Waiter(Task):
    """Stops on purpose until an operator moves the DAG on (obshell's ERR_WAIT_OPERATOR)."""

    can_retry = can_rollback = can_pass = True

    def execute(self) -> None:
        raise WaitOperator("waiting for the main DAG")


class Sleeper(Task):
    """Sleeps for the ``sleep`` param (interruptibly)."""

    can_retry = can_rollback = True

    def execute(self) -> None:
        self.sleep(float(self.context.get_param("sleep", 30)))


def make_registry() -> TaskRegistry:
    registry = TaskRegistry()
    for task_type in (Step, Rigid, Blocking, BlockingContinuable, Uncancellable, Waiter, Sleeper):
        registry.register(task_type)
    return registry


@asynccontextmanager
async def running_engine(url: str, kind: StoreKind, registry: TaskRegistry | None = None,
                         **options: object) -> AsyncIterator[TaskEngine]:
    engine = TaskEngine(TaskStore(url, kind, owner=OWNER), registry or make_registry(), **options)
    await engine.start()
    try:
        yield engine
    finally:
        SCRIPT.release.set()  # never leave a blocked worker behind
        await engine.stop()
        engine.close()


async def wait_dag(engine: TaskEngine, gid: str, states: Iterable[str] = ("SUCCEED", "FAILED"), *,
                   timeout: float = 10.0, stage: int | None = None) -> DagDetailDTO:
    """Poll the DAG until it reaches one of ``states`` (and ``stage``); fail with what was seen."""
    wanted = set(states)
    deadline = time.monotonic() + timeout
    dag = engine.service.get_dag(gid)
    while time.monotonic() < deadline:
        dag = engine.service.get_dag(gid)
        if dag.state in wanted and (stage is None or dag.stage == stage):
            return dag
        await asyncio.sleep(0.01)
    raise AssertionError(f"DAG {gid} never reached {wanted}: last seen {dag.state}/{dag.operator} "
                         f"stage {dag.stage}")


async def wait_for(condition: threading.Event | Callable[[], bool], timeout: float = 10.0) -> None:
    check = condition.is_set if isinstance(condition, threading.Event) else condition
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.01)
