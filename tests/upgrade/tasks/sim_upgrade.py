"""Running the upgrade task types for real on a simulated cluster, in this process.

One task environment per simulated observer (its agent address is the observer's IP), one
local SQLite task store owned by the first zone's agent, and a DAG laid out by
:mod:`pyobshell.upgrade.stages` whose every node runs here: parallel nodes fan out to
the simulated agents' environments, serial nodes run as the owner.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine

from pyobshell.engine import AgentInfo, Node, StoreKind, TaskContext, TaskEngine, TaskStore
from pyobshell.wire.task import DagDetailDTO
from pyobshell.engine.template import Template
from pyobshell.ob.target import load_observer_target
from pyobshell.upgrade import dag as upgrade_dag, environment as task_environment
from pyobshell.upgrade.stages import Stage, ZoneAgents
from pyobshell.wire.upgrade import UpgradeMode
from pyobshell.upgrade.packages.store import PackageStore
from pyobshell.upgrade.environment import TaskEnvironment, UpgradeTimings
from pyobshell.upgrade.route import RouteStep

AGENT_PORT = 2886
SIM_TIMINGS = UpgradeTimings(poll_first_s=0.05, poll_max_s=0.5, zone_wait_s=60, observer_exit_wait_s=30,
                             observer_start_wait_s=60, cluster_ready_wait_s=60, freeze_wait_s=60,
                             script_timeout_s=60, command_timeout_s=60)
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


def upgrade_context(agents: SimAgents, version: str, release: str) -> TaskContext:
    build = release.partition(".")[0]
    route = [RouteStep.from_dict({"Version": version, "Release": build})]
    return upgrade_dag.upgrade_context([env.agent for env in agents.environments], route, UpgradeMode.ROLLING,
                                       version, release)


def upgrade_template(stages: list[Stage], version: str, release: str, extra: dict[int, Node] | None = None) -> Template:
    return upgrade_dag.upgrade_template(stages, UpgradeMode.ROLLING, version, release, extra)


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
