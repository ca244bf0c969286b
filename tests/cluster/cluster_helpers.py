"""Helpers of the multi-process cluster tests: the simulated cluster's agents, the maintainer
row, creating cluster DAGs from the test process, and reading them through the API.

DAGs are created by the test through the cluster store (``ocs`` on the simulated observer)
with the engine's TemplateBuilder, as an API handler would; the maintainer's scheduler finds
them on its next tick.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil

from tests.cluster import cluster_test_tasks
from pyobshell.agent.home import AgentHome
from pyobshell.agent.tasks import TASK_MODULES_ENV, cluster_store_url
from pyobshell.client import ObshellClient
from pyobshell.cluster.settings import LEASE_ENV, RENEW_ENV, SILENCE_ENV
from pyobshell.engine import DEFAULT_REGISTRY, AgentInfo, StoreKind, TaskContext, TaskService, TaskStore, Template
from pyobshell.ob.target import ObserverTarget
from pyobshell.security.agent_token import AgentToken
from tests.helpers.sim import connect, query, run_cli, wait_for

AGENT_PORT = 2886
LEASE_S = 3.0
RENEW_S = 1.0
SILENCE_S = 20.0  # an executor without a heart-beat this long is taken for dead (a restart takes less)


def agent_env(password: str) -> dict[str, str]:
    """What every agent of the test cluster gets: the test task types and a short lease."""
    here = str(Path(cluster_test_tasks.__file__).parent)
    return {
        "PYTHONPATH": os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p),
        TASK_MODULES_ENV: "cluster_test_tasks",
        LEASE_ENV: str(LEASE_S),
        RENEW_ENV: str(RENEW_S),
        SILENCE_ENV: str(SILENCE_S),
        "OB_ROOT_PASSWORD": password,
    }


class ClusterUnderTest:
    def __init__(self, document: dict, password: str):
        self.document = document
        self.password = password
        self.observers = {o["ip"]: o for o in document["observers"]}
        self.agents = [AgentInfo(a["ip"], int(a["port"])) for a in document["agents"]]
        self.homes = {str(AgentInfo(a["ip"], int(a["port"]))): a["home"] for a in document["agents"]}

    # -- agents ---------------------------------------------------------------------------
    def home(self, agent: AgentInfo) -> str:
        return self.homes[str(agent)]

    def pid(self, agent: AgentInfo) -> int | None:
        return AgentHome(Path(self.home(agent))).read_pid()

    def client(self, agent: AgentInfo) -> ObshellClient:
        return ObshellClient(str(agent), password=self.password, timeout=10)

    def rpc_client(self, agent: AgentInfo) -> ObshellClient:
        """A client with the cluster's agent token (read from the agent's home), for /rpc/v1."""
        token = AgentToken.load(Path(self.home(agent)))
        assert token is not None
        return ObshellClient(str(agent), token=token.value, timeout=10)

    def kill(self, agent: AgentInfo) -> None:
        pid = self.pid(agent)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
                 what=f"agent pid {pid} to die")

    def start(self, agent: AgentInfo) -> None:
        run_cli("agent", "start", "--home", self.home(agent), "--ip", agent.ip, "--port", str(agent.port),
                "--ob-home", self.observers[agent.ip]["home"], env={**os.environ, **agent_env(self.password)})

    def identity(self, agent: AgentInfo) -> str:
        with self.client(agent) as client:
            return client.status().agent.identity

    # -- the cluster store ----------------------------------------------------------------
    def any_observer(self) -> dict:
        return self.document["observers"][0]

    def maintainer(self) -> tuple[AgentInfo, float]:
        """The agent named in task_maintainer, and seconds since its last renew (DB clock)."""
        conn = connect(self.any_observer(), self.password, database="ocs")
        try:
            ((ip, port, idle_us),) = query(
                conn, "SELECT agent_ip, agent_port, TIMESTAMPDIFF(MICROSECOND, active_time, NOW(6)) "
                      "FROM task_maintainer WHERE id = 1")
        finally:
            conn.close()
        return AgentInfo(ip, int(port)), float(idle_us) / 1e6

    def active_maintainer(self) -> AgentInfo:
        return wait_for(lambda: (m := self.maintainer())[1] < LEASE_S and m[0], timeout=60,
                        what="an active maintainer")

    def store(self) -> TaskStore:
        observer = self.any_observer()
        target = ObserverTarget(ob_home=Path(observer["home"]), host=observer["ip"], sql_port=observer["sql_port"])
        return TaskStore(cluster_store_url(target, self.password), StoreKind.CLUSTER, owner=self.agents[0])

    def create_dag(self, template: Template, context: TaskContext) -> str:
        store = self.store()
        try:
            return TaskService(store, DEFAULT_REGISTRY).create_dag(template, context).id
        finally:
            store.close()

    def dag(self, gid: str, via: AgentInfo | None = None) -> dict:
        with self.client(via or self.agents[0]) as client:
            return client.request("GET", f"/api/v1/task/dag/{gid}")

    def finished_dag(self, gid: str, via: AgentInfo | None = None, timeout: float = 90) -> dict:
        return wait_for(lambda: (d := self.dag(gid, via))["state"] in ("SUCCEED", "FAILED") and d,
                        timeout=timeout, what=f"DAG {gid} to finish")
