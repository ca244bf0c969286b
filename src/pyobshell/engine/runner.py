"""TaskEngine: one store with its scheduler, executor and service, started and stopped together.

An agent runs one engine for its SQLite store and, once the cluster is set up, one for the
cluster store::

    engine = TaskEngine(TaskStore("sqlite:///home/agent.db", owner=AgentInfo("10.0.0.1", 2886)))
    await engine.start()          # on the application's event loop
    dto = engine.service.create_dag(template, context)
    ...
    await engine.stop()

An engine object is started and stopped once; after a stop, build a new one on the same store
(it recovers what the old one left running).
"""

from __future__ import annotations

import asyncio

from pyobshell.engine.advance import DagAdvancer, LocalDispatcher
from pyobshell.engine.context import TaskContext
from pyobshell.wire.task import DagDetailDTO
from pyobshell.engine.executor import Executor
from pyobshell.engine.logs import CLUSTER_SCHEDULER_TRACE, LOCAL_SCHEDULER_TRACE, engine_logger
from pyobshell.engine.observers import NodeObservers
from pyobshell.engine.scheduler import Scheduler
from pyobshell.engine.service import TaskService
from pyobshell.engine.store import TaskStore
from pyobshell.engine.task import DEFAULT_REGISTRY, TaskRegistry
from pyobshell.engine.template import Template


class TaskEngine:
    def __init__(self, store: TaskStore, registry: TaskRegistry = DEFAULT_REGISTRY, *, workers: int = 8,
                 tick_seconds: float = 1.0):
        trace_id = LOCAL_SCHEDULER_TRACE if store.is_local else CLUSTER_SCHEDULER_TRACE
        self.store = store
        self.registry = registry
        self.log = engine_logger(__name__, trace_id)
        self.executor = Executor(store, registry, workers=workers, on_finished=self.wake, trace_id=trace_id)
        self.scheduler = Scheduler(DagAdvancer(store, LocalDispatcher(self.executor), trace_id), tick_seconds=tick_seconds)
        self.service = TaskService(store, registry, on_change=self.wake)
        self._started = False

    async def start(self) -> None:
        """Re-queue interrupted sub-tasks, then start scheduling (call on the event loop)."""
        if self._started:
            return
        self._started = True
        recovered = self.executor.recover()
        self.scheduler.start()
        self.log.info("%s task engine started, %d sub-tasks recovered", self.store.kind.value, recovered)

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop scheduling and executing. Runs still going are interrupted; their results are
        not recorded, so the next start recovers them like after a crash."""
        if not self._started:
            return
        self._started = False
        await self.scheduler.stop()
        await asyncio.to_thread(self.executor.close, timeout)
        self.log.info("%s task engine stopped", self.store.kind.value)

    def close(self) -> None:
        self.store.close()

    @property
    def node_observers(self) -> NodeObservers:
        """Told of every node this engine's scheduler finishes (see ``engine.observers``)."""
        return self.scheduler.advancer.node_observers

    def wake(self) -> None:
        self.scheduler.wake()

    def create_dag(self, template: Template, context: TaskContext | None = None) -> DagDetailDTO:
        return self.service.create_dag(template, context)

    async def __aenter__(self) -> "TaskEngine":
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()
