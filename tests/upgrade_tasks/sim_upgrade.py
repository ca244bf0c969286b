"""Running the upgrade task types for real on a simulated cluster, in this process.

One task environment per simulated observer (its agent address is the observer's IP), one
local SQLite task store owned by the first zone's agent, and a DAG laid out by
:mod:`pyobshell.upgrade.dag_layout` whose every node runs here: parallel nodes fan out to
the simulated agents' environments, serial nodes run as the owner.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine

from pyobshell.engine import AgentInfo, DagDetailDTO, Node, StoreKind, TaskContext, TaskEngine, TaskStore
from pyobshell.engine.model import EXECUTE_AGENTS_KEY, Maintainer
from pyobshell.engine.template import Template, TemplateBuilder
from pyobshell.ob.target import load_observer_target
from pyobshell.upgrade import task_environment
from pyobshell.upgrade.dag_layout import FreezeScope, Stage, StageKind, ZoneAgents, dag_name, UpgradeMode
from pyobshell.upgrade.package_store import PackageStore
from pyobshell.upgrade.task_environment import TaskEnvironment, UpgradeTimings
from pyobshell.upgrade.tasks import (
    BackupParametersTask,
    CheckPackagesTask,
    CheckPythonEnvTask,
    CreateUpgradeDirTask,
    DownloadPackagesTask,
    RemoveUpgradeCheckDirTask,
    RestoreParametersTask,
    UnpackPackagesTask,
    minor_freeze_node,
    reinstall_node,
    script_node,
    start_zone_node,
    stop_zone_node,
)
from pyobshell.upgrade.tasks.upgrade_context import RouteNode

AGENT_PORT = 2886
SIM_TIMINGS = UpgradeTimings(poll_first_s=0.05, poll_max_s=0.5, zone_wait_s=60, observer_exit_wait_s=30,
                             observer_start_wait_s=60, cluster_ready_wait_s=60, freeze_wait_s=60,
                             script_timeout_s=60, command_timeout_s=60)
_PER_HOST = {
    StageKind.CHECK_ENVIRONMENT: CheckPythonEnvTask, StageKind.CREATE_DIR: CreateUpgradeDirTask,
    StageKind.DOWNLOAD_PACKAGES: DownloadPackagesTask, StageKind.CHECK_PACKAGES: CheckPackagesTask,
    StageKind.UNPACK_PACKAGES: UnpackPackagesTask, StageKind.REMOVE_TASK_DIR: RemoveUpgradeCheckDirTask,
}


@dataclass(frozen=True)
class SimAgents:
    zones: list[ZoneAgents]
    environments: list[TaskEnvironment]

    @property
    def owner(self) -> AgentInfo:
        return self.environments[0].agent


def install_environments(cluster: dict, store: PackageStore, agents_dir: Path,
                         timings: UpgradeTimings = SIM_TIMINGS) -> SimAgents:
    """One environment per observer of ``cluster`` (the ``cluster.json`` document)."""
    environments, zones = [], {}
    for observer in cluster["observers"]:
        agent = AgentInfo(observer["ip"], AGENT_PORT)
        target = load_observer_target(Path(observer["home"]), observer["ip"], cluster["root_password"])
        env = TaskEnvironment.for_observer(agent, agents_dir / observer["ip"], target, lambda: store,
                                           arch="x86_64", timings=timings)
        environments.append(task_environment.install(env))
        zones.setdefault(observer["zone"], []).append(agent)
    return SimAgents([ZoneAgents(zone, tuple(agents)) for zone, agents in sorted(zones.items())], environments)


def package_store(path: Path, rpms: list[Path]) -> PackageStore:
    store = PackageStore(create_engine(f"sqlite:///{path}"))
    for rpm in rpms:
        store.add(rpm)
    return store


def stage_node(stage: Stage) -> Node:
    """The node running ``stage`` (what the agent's DAG builder does, here all local)."""
    kind, hop, zone = stage.kind, stage.hop if stage.hop is not None else 0, stage.zone or ""
    if kind in _PER_HOST:
        params = {EXECUTE_AGENTS_KEY: [agent.to_dict() for agent in stage.agents]}
        return Node(_PER_HOST[kind](), parallel=True, context=TaskContext(params=params))
    if kind is StageKind.REINSTALL_OBSERVER:
        return reinstall_node(hop, list(stage.agents), zone)
    if kind is StageKind.STOP_ZONE:
        return stop_zone_node(zone)
    if kind is StageKind.START_ZONE:
        return start_zone_node(zone)
    if kind is StageKind.MINOR_FREEZE:
        return minor_freeze_node([zone] if stage.freeze_scope is FreezeScope.ZONE else None)
    if stage.script is not None:
        return script_node(stage.script, hop, zone)
    task = BackupParametersTask() if kind is StageKind.BACKUP_PARAMETERS else RestoreParametersTask()
    return Node(task, context=TaskContext(params={"upgradeRouteIndex": hop}))


def upgrade_template(stages: list[Stage], version: str, release: str, extra: dict[int, Node] | None = None) -> Template:
    """The DAG; ``extra`` inserts test nodes before the stage of that index."""
    builder = TemplateBuilder(dag_name(UpgradeMode.ROLLING, version, release)).set_maintenance(Maintainer.global_())
    for index, stage in enumerate(stages):
        if extra and index in extra:
            builder.add_node(extra[index])
        builder.add_node(stage_node(stage))
    return builder.build()


def upgrade_context(agents: SimAgents, version: str, release: str) -> TaskContext:
    build, _, distribution = release.partition(".")
    everyone = [env.agent.to_dict() for env in agents.environments]
    return TaskContext(params={
        "allAgents": everyone, EXECUTE_AGENTS_KEY: everyone, "upgradeDir": "", "taskTime": str(int(time.time() * 1000)),
        "version": version, "buildNumber": build, "distribution": distribution, "releaseDistribution": release,
        "upgradeRoute": [RouteNode(version, build, f"{version}-{build}").to_dict()], "ROLLING": True,
        "obType": "oceanbase-ce",
    })


async def wait_finished(engine: TaskEngine, gid: str, timeout: float) -> DagDetailDTO:
    """Poll the DAG (fast, then backing off) until it is SUCCEED or FAILED."""
    deadline, delay = time.monotonic() + timeout, 0.05
    while True:
        dag = await asyncio.to_thread(engine.service.get_dag, gid)
        if dag.state in ("SUCCEED", "FAILED"):
            return dag
        if time.monotonic() > deadline:
            raise AssertionError(f"DAG {gid} still {dag.state} at stage {dag.stage} after {timeout} s:\n"
                                 + describe(dag))
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 1.0)


def describe(dag: DagDetailDTO) -> str:
    """Every node with its state and its sub-tasks' logs, for assertion messages."""
    lines = []
    for node in dag.nodes or []:
        lines.append(f"- {node.name}: {node.state}")
        for task in node.sub_tasks or []:
            lines += [f"    [{task.execute_agent.ip}] {line}" for line in task.task_logs or []]
    return "\n".join(lines)


def node_logs(dag: DagDetailDTO, name: str) -> list[str]:
    return [line for node in dag.nodes or [] if node.name == name
            for task in node.sub_tasks or [] for line in task.task_logs or []]


def open_engine(path: Path, owner: AgentInfo) -> TaskEngine:
    return TaskEngine(TaskStore(f"sqlite:///{path}", StoreKind.LOCAL, owner=owner), workers=4, tick_seconds=0.5)
