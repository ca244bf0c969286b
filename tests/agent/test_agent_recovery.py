"""A real agent beside a simulated observer: it opens the cluster store in OceanBase once obState
is AVAILABLE, and a DAG of test task types survives `kill -9` in the middle of a long sub-task.

The DAG is written into the agent's SQLite store by the test while the agent is stopped (there
is no DAG-creation route in obshell's task API); the task types come from ``agent_test_tasks``,
loaded by the agent through PYOBSHELL_TASK_MODULES.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.agent import agent_test_tasks
from tests.agent.agent_test_tasks import JOURNAL_PARAM, RELEASE_FILE, JournalStep, LongContinuableStep, runs
from pyobshell.agent.home import AgentHome
from pyobshell.agent.tasks import TASK_MODULES_ENV, cluster_store_url
from pyobshell.client import ObshellApiError, ObshellClient
from pyobshell.engine import DEFAULT_REGISTRY, AgentInfo, StoreKind, TaskContext, TaskService, TaskStore, TemplateBuilder
from pyobshell.ob.target import ObserverTarget
from tests.helpers.sim import connect, query, run_cli, sim_cluster, wait_for
from tests.helpers import nets

pytestmark = pytest.mark.multiprocess

NET = nets.AGENT_RECOVERY
PASSWORD = "recovery-pw"
AGENT_PORT = 2886


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with sim_cluster(tmp_path_factory.mktemp("agent-sim") / "c", net=NET, zones=1, password=PASSWORD) as document:
        yield document


def agent_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, OB_ROOT_PASSWORD=PASSWORD, **extra)
    here = str(Path(agent_test_tasks.__file__).parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH", "")) if p)
    env[TASK_MODULES_ENV] = "agent_test_tasks"
    return env


class Agent:
    def __init__(self, home: Path, observer: dict):
        self.home = home
        self.observer = observer
        self.ip = observer["ip"]
        self.owner = AgentInfo(self.ip, AGENT_PORT)

    def start(self) -> None:
        run_cli("agent", "start", "--home", str(self.home), "--ip", self.ip, "--port", str(AGENT_PORT),
                "--ob-home", self.observer["home"], env=agent_env())

    def stop(self) -> None:
        run_cli("agent", "stop", "--home", str(self.home), check=False)

    def kill(self) -> None:
        pid = AgentHome(self.home).read_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
                 what=f"agent pid {pid} to die")

    def client(self) -> ObshellClient:
        return ObshellClient(f"{self.ip}:{AGENT_PORT}", password=PASSWORD, timeout=10)


@pytest.fixture
def agent(cluster: dict, tmp_path: Path) -> Iterator[Agent]:
    agent = Agent(tmp_path / "agent", cluster["observers"][0])
    yield agent
    agent.stop()


def dag_of(client: ObshellClient, gid: str) -> dict:
    return client.request("GET", f"/api/v1/task/dag/{gid}")


def sub_task(dag: dict, stage: int) -> dict:
    return dag["nodes"][stage - 1]["sub_tasks"][0]


def test_cluster_store_opens_in_ocs_and_serves_cluster_ids(agent: Agent, cluster: dict) -> None:
    agent.start()
    with agent.client() as client:
        assert wait_for(lambda: client.request("GET", "/api/v1/task/dags/ob"), timeout=60,
                        what="the cluster store to open") == {"contents": []}
        conn = connect(agent.observer, PASSWORD, database="ocs")
        try:
            tables = {row[0] for row in query(conn, "SHOW TABLES")}
        finally:
            conn.close()
        assert {"dag_instance", "node_instance", "subtask_instance", "sub_task_log", "cluster_status",
                "task_maintainer"} <= tables
        target = ObserverTarget(ob_home=Path(agent.observer["home"]), host=agent.ip,
                                sql_port=agent.observer["sql_port"])
        store = TaskStore(cluster_store_url(target, PASSWORD), StoreKind.CLUSTER, owner=agent.owner)
        try:
            template = TemplateBuilder("cluster probe").add_task(JournalStep(name="probe")).build()
            created = TaskService(store, DEFAULT_REGISTRY).create_dag(template)
        finally:
            store.close()
        dag = dag_of(client, created.id)
        assert (dag["id"], dag["state"], dag["nodes"][0]["name"]) == (created.id, "READY", "probe")
        assert [d["id"] for d in client.request("GET", "/api/v1/task/dag/ob/unfinish")["contents"]] == [created.id]


def test_dag_survives_kill_9_in_a_long_sub_task(agent: Agent, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    journal.mkdir()
    AgentHome(agent.home).create_dirs()
    store = TaskStore(f"sqlite:///{AgentHome(agent.home).store_path}", StoreKind.LOCAL, owner=agent.owner)
    try:
        template = (TemplateBuilder("kill -9 rehearsal").add_task(JournalStep(name="before"))
                    .add_task(LongContinuableStep(name="long")).add_task(JournalStep(name="after"))
                    .add_task(JournalStep(name="last")).build())
        gid = TaskService(store, DEFAULT_REGISTRY).create_dag(template, TaskContext().set_param(JOURNAL_PARAM, str(journal))).id
    finally:
        store.close()

    agent.start()
    with agent.client() as client:
        wait_for(lambda: runs(journal, "long") and sub_task(dag_of(client, gid), 2)["state"] == "RUNNING",
                 timeout=60, what="the long sub-task to run")
    agent.kill()
    assert runs(journal, "after") == []

    agent.start()
    with agent.client() as client:
        wait_for(lambda: len(runs(journal, "long")) == 2, timeout=60, what="the long sub-task to continue")
        assert dag_of(client, gid)["state"] == "RUNNING"
        (journal / RELEASE_FILE).touch()
        dag = wait_for(lambda: (d := dag_of(client, gid))["state"] in ("SUCCEED", "FAILED") and d,
                       timeout=60, what="the DAG to finish")
        assert (dag["state"], dag["stage"], dag["operator"]) == ("SUCCEED", 4, "RUN"), dag
        long_task = sub_task(dag, 2)
        assert long_task["execute_times"] == 1 and long_task["task_logs"] == ["long released"]
        with pytest.raises(ObshellApiError) as info:
            client.request("POST", f"/api/v1/task/dag/{gid}", {"operator": "retry"})
        assert (info.value.status, info.value.err_code) == (400, "Task.Dag.Operator.RetryNotFailedDag")

    # Steps that cannot continue ran exactly once; the long one ran again, as a continuation.
    assert runs(journal, "before") == runs(journal, "after") == runs(journal, "last") == ["1 0"]
    assert runs(journal, "long") == ["1 0", "1 1"]


def test_an_unimportable_task_module_stops_the_start(agent: Agent) -> None:
    result = run_cli("agent", "start", "--home", str(agent.home), "--ip", agent.ip, "--port", str(AGENT_PORT),
                     "--ob-home", agent.observer["home"], check=False,
                     env={**agent_env(), TASK_MODULES_ENV: "agent_test_tasks,no_such_task_module"})
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "no_such_task_module" in result.stderr and TASK_MODULES_ENV in result.stderr
    assert AgentHome(agent.home).running_pid() is None
