"""The OB upgrade as the API offers it: plan, check and start (obshell's ``ob/upgrade_ob.go``).

Each call gathers the facts (the cluster read through ``ob/``, the stored packages and their
route file, every agent's status), decides (pure planning, the pre-checks) and, to start,
creates the DAG in the cluster's task store. Blocking work runs in worker threads.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial

import anyio
import anyio.to_thread

from pyobshell.engine import TaskService
from pyobshell.engine.model import Maintainer
from pyobshell.engine.codes import TASK_ENGINE_UNAVAILABLE
from pyobshell.errors import TASK_NOT_FOUND
from pyobshell.ob.sql import Sql
from pyobshell.upgrade.packages.store import PackageStore
from pyobshell.upgrade.prechecks import run_prechecks
from pyobshell.upgrade.probe_store import ProbeReportStore
from pyobshell.upgrade.report import UpgradeReports, UpgradeReportStore
from pyobshell.upgrade.environment import upgrade_python
from pyobshell.upgrade.dag import check_dag, upgrade_dag, upgrade_dag_name
from pyobshell.upgrade.plan import (
    AgentFacts,
    ClusterFacts,
    RegisteredAgent,
    UpgradeInputs,
    UpgradeRequest,
    find_route_package,
    plan_upgrade,
    read_cluster_facts,
)
from pyobshell.wire.agent import AgentStatus, ServerState
from pyobshell.wire.task import DagDetailDTO
from pyobshell.wire.probe import SqlProbeReport
from pyobshell.wire.report import UpgradeReport
from pyobshell.wire.upgrade import ObUpgradeParam, UpgradeCheckParam, UpgradePlan

log = logging.getLogger(__name__)

AgentStatuses = Callable[[], Awaitable[dict[str, AgentStatus]]]
"""Every agent of the cluster that answers, this one included, keyed ``ip:port``."""


@dataclass(frozen=True)
class LocalObserver:
    """The observer beside this agent: where the cluster is read, which build it runs."""

    sql: Sql  # root@sys, failing over to the other observers while this one is down
    host: str
    sql_port: int
    agent_port: int
    arch: str = platform.machine()


def cluster_facts_reader(observer: LocalObserver,
                         registered_agents: Callable[[], Sequence[RegisteredAgent]] = tuple,
                         ) -> Callable[[], ClusterFacts]:
    """Reads the facts through the local observer (blocking)."""
    def read() -> ClusterFacts:
        return read_cluster_facts(observer.sql, sql_host=observer.host, sql_port=observer.sql_port,
                                  agent_port=observer.agent_port, arch=observer.arch,
                                  registered=registered_agents())
    return read


class UpgradeService:
    def __init__(self, read_facts: Callable[[], ClusterFacts], sql: Sql, packages: Callable[[], PackageStore],
                 cluster_tasks: Callable[[], TaskService | None], agent_statuses: AgentStatuses,
                 python: Callable[[], str] = upgrade_python, probe_reports: ProbeReportStore | None = None,
                 reports: UpgradeReports | None = None):
        """``sql``: root@sys for the pre-checks; the other callables give the facts, the package
        store, the cluster's task service (None while its store is closed) and every agent's status."""
        self._read_facts_now = read_facts
        self._sql = sql
        self._packages = packages
        self._cluster_tasks = cluster_tasks
        self._agent_statuses = agent_statuses
        self._python = python
        self._probe_reports = probe_reports
        self._reports = reports or UpgradeReports(sql, cluster_tasks, UpgradeReportStore(lambda: None))

    async def plan(self, body: ObUpgradeParam) -> UpgradePlan:
        """What the upgrade would do; nothing runs (pyobshell's ``/ob/upgrade/plan``)."""
        request = UpgradeRequest.of(body)
        facts, packages, route_text = await self._read_facts(request)
        return plan_upgrade(request, facts, packages, route_text)

    async def start(self, body: ObUpgradeParam) -> DagDetailDTO:
        """The cluster's global maintenance lock first, with the DAG's row reserved: a start that
        cannot win is refused at once (409, naming the DAG that holds the lock, this one's
        reservation included). Then every pre-check (all failures at once, 400; the reservation
        is given back), then the DAG, created in place of its reservation (READY, operator RUN)."""
        tasks = self._tasks()
        request = UpgradeRequest.of(body)
        await anyio.to_thread.run_sync(tasks.refuse_if_under_maintenance)  # a read: no writer waits on it
        reserved = await anyio.to_thread.run_sync(tasks.reserve_dag, upgrade_dag_name(request), Maintainer.global_())
        try:
            began = time.monotonic()
            inputs = await self._inputs(request)
            read = time.monotonic()
            plan = await anyio.to_thread.run_sync(run_prechecks, self._sql, inputs, self._python())
            log.info("upgrade start: cluster facts read in %.2f s, pre-checks passed in %.2f s",
                     read - began, time.monotonic() - read, extra={"task_id": reserved})
            template, context = upgrade_dag(plan, inputs)
            return await anyio.to_thread.run_sync(partial(tasks.create_dag, template, context, reserved=reserved))
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._give_back(tasks, reserved)
            raise

    async def _give_back(self, tasks: TaskService, reserved: int) -> None:
        try:
            await anyio.to_thread.run_sync(tasks.drop_reservation, reserved)
        except Exception as exc:  # noqa: BLE001 - the refusal is the answer; the lease frees the lock later
            log.warning("could not give back the reservation of DAG %d (%s); the next start drops it once "
                        "its lease has passed", reserved, exc, extra={"task_id": reserved})

    async def check(self, body: UpgradeCheckParam) -> DagDetailDTO:
        """obshell's upgrade check: every host downloads, verifies and unpacks the packages of
        every hop, then removes them. Nothing in the cluster changes; no maintenance lock."""
        tasks = self._tasks()
        inputs = await self._inputs(UpgradeRequest.of(body))
        plan = plan_upgrade(inputs.upgrade, inputs.facts, inputs.packages, inputs.route_file_text)
        template, context = check_dag(plan, inputs)
        return await anyio.to_thread.run_sync(tasks.create_dag, template, context)

    async def probe(self) -> SqlProbeReport:
        """The live SQL probe's report of the latest upgrade (404 before any upgrade ran)."""
        tasks = self._tasks()
        dag = await anyio.to_thread.run_sync(lambda: tasks.get_maintenance_dag(show_details=False))
        report = None
        if self._probe_reports is not None:
            report = await anyio.to_thread.run_sync(self._probe_reports.load, dag.dag_id)
        if report is None:
            raise TASK_NOT_FOUND(f"no SQL probe report for DAG {dag.id} (the probe runs on the maintainer while "
                                 "an upgrade runs)")
        return SqlProbeReport.model_validate(report)

    async def report(self, gid: str) -> UpgradeReport:
        """The post-upgrade report kept with DAG ``gid`` (400 for a malformed id, 404 without one)."""
        return await anyio.to_thread.run_sync(self._reports.report, gid)

    async def verify(self) -> UpgradeReport:
        """The post-upgrade checks, run now."""
        return await anyio.to_thread.run_sync(self._reports.verify_now)

    # -- the facts --------------------------------------------------------------------------
    def _tasks(self) -> TaskService:
        tasks = self._cluster_tasks()
        if tasks is None:
            raise TASK_ENGINE_UNAVAILABLE("the cluster task store is not open yet (is the observer available?)")
        return tasks

    async def _read_facts(self, request: UpgradeRequest) -> tuple[ClusterFacts, list, str | None]:
        """The cluster's version and zones, the stored packages, and the target's route file."""
        facts = await anyio.to_thread.run_sync(self._read_facts_now)
        store = self._packages()
        packages = await anyio.to_thread.run_sync(store.list)
        route_package = find_route_package(request, facts, packages)
        route_text = None
        if route_package is not None:
            route_text = await anyio.to_thread.run_sync(store.route_file_text, route_package.pkg_id)
        return facts, packages, route_text

    async def _inputs(self, request: UpgradeRequest) -> UpgradeInputs:
        facts, packages, route_text = await self._read_facts(request)
        statuses = await self._agent_statuses()
        answering = [agent_facts(key, status) for key, status in statuses.items()]
        expected = {str(agent) for zone in facts.zones for agent in zone.agents}
        return UpgradeInputs(request, facts, packages, route_text, answering, sorted(expected - set(statuses)))


def agent_facts(key: str, status: AgentStatus) -> AgentFacts:
    """What the pre-checks need of one agent's status."""
    host = key.rsplit(":", 1)[0]
    return AgentFacts(key, status.state == ServerState.RUNNING, int(status.obState), f"{host}:{status.sqlPort}")
