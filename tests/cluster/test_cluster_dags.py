"""Cluster mode end to end: three simulated zones, one real agent each (multi-process).

The agents join the cluster, elect a maintainer, and run cluster DAGs whose serial steps run on
the maintainer and whose parallel steps run one sub-task on each named agent; a maintainer or
an executor killed with SIGKILL does not lose the DAG.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.cluster_helpers import AGENT_PORT, LEASE_S, RENEW_S, SILENCE_S, ClusterUnderTest, agent_env
from tests.cluster.cluster_test_tasks import HOMES_PARAM, RELEASE_PARAM, HeldStep, HomeStep, runs
from pyobshell.agent.home import AgentHome
from pyobshell.client import ObshellApiError
from pyobshell.engine import AgentInfo, Node, TaskContext, TemplateBuilder, encode_local_id
from tests.helpers.sim import sim_cluster, wait_for
from tests.helpers import nets

pytestmark = pytest.mark.multiprocess

NET = nets.CLUSTER_DAGS
PASSWORD = "cluster-pw"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterUnderTest]:
    directory = tmp_path_factory.mktemp("cluster-sim") / "c"
    with sim_cluster(directory, net=NET, zones=3, password=PASSWORD, agents=True,
                     env=agent_env(PASSWORD)) as document:
        yield ClusterUnderTest(document, PASSWORD)


def on_agents(agents: list[AgentInfo]) -> TaskContext:
    return TaskContext().set_param("execute_agents", [a.to_dict() for a in agents])


def dag_context(cluster: ClusterUnderTest, release: str = "") -> TaskContext:
    context = TaskContext().set_param(HOMES_PARAM, cluster.homes)
    if release:
        context.set_param(RELEASE_PARAM, release)
    return context


def pids_of(cluster: ClusterUnderTest, agent: AgentInfo, name: str) -> list[int]:
    return [int(line.split()[0]) for line in runs(cluster.home(agent), name)]


def test_all_agents_are_cluster_agents_with_one_maintainer(cluster: ClusterUnderTest) -> None:
    assert AGENT_PORT == cluster.agents[0].port
    for agent in cluster.agents:
        assert cluster.identity(agent) == "CLUSTER AGENT"
    maintainer = cluster.active_maintainer()
    assert maintainer in cluster.agents
    with cluster.client(cluster.agents[-1]) as client:
        statuses = client.agents_status()
    assert set(statuses) == {str(a) for a in cluster.agents}
    assert {s.agent.identity for s in statuses.values()} == {"CLUSTER AGENT"}
    assert {s.obState for s in statuses.values()} == {3}


def test_parallel_node_runs_on_every_agent_serial_nodes_on_the_maintainer(cluster: ClusterUnderTest) -> None:
    maintainer = cluster.active_maintainer()
    template = (TemplateBuilder("spread").add_task(HomeStep(name="first"))
                .add_node(Node(HomeStep(name="each"), parallel=True, context=on_agents(cluster.agents)))
                .add_task(HomeStep(name="last")).build())
    gid = cluster.create_dag(template, dag_context(cluster))
    watcher = next(a for a in cluster.agents if a != maintainer)
    dag = cluster.finished_dag(gid, via=watcher)
    assert (dag["state"], dag["stage"]) == ("SUCCEED", 3), dag
    each = dag["nodes"][1]["sub_tasks"]
    assert len(each) == 3 and {t["state"] for t in each} == {"SUCCEED"}
    for agent in cluster.agents:
        assert pids_of(cluster, agent, "each") == [cluster.pid(agent)]
        # the executor's log line reached the cluster store
    assert sorted(t["task_logs"][0] for t in each) == sorted(f"each ran on {a}" for a in cluster.agents)
    for name in ("first", "last"):
        assert pids_of(cluster, maintainer, name) == [cluster.pid(maintainer)]
        assert all(runs(cluster.home(a), name) == [] for a in cluster.agents if a != maintainer)

    # The watcher's local copy of its "each" sub-task, asked for at another agent: forwarded.
    copy_gid = encode_local_id(local_copy_id(cluster, watcher, "each"), watcher)
    asked = next(a for a in cluster.agents if a != watcher)
    with cluster.client(asked) as client:
        copy = client.request("GET", f"/api/v1/task/sub_task/{copy_gid}")
        assert (copy["id"], copy["name"], copy["state"]) == (copy_gid, "each", "SUCCEED")
        with pytest.raises(ObshellApiError) as info:
            client.request("GET", f"/api/v1/task/sub_task/{encode_local_id(10**9, watcher)}")
        assert (info.value.status, info.value.err_code) == (404, "Task.NotFound")


def local_copy_id(cluster: ClusterUnderTest, agent: AgentInfo, name: str) -> int:
    db = sqlite3.connect(f"file:{AgentHome(Path(cluster.home(agent))).store_path}?mode=ro", uri=True)
    try:
        ((row_id,),) = db.execute("SELECT id FROM subtask_instance WHERE node_id = 0 AND name = ? "
                                  "ORDER BY id DESC LIMIT 1", (name,)).fetchall()
    finally:
        db.close()
    return int(row_id)


def test_maintainer_killed_mid_dag_is_replaced_and_the_dag_completes(cluster: ClusterUnderTest, tmp_path) -> None:
    old = cluster.active_maintainer()
    others = [a for a in cluster.agents if a != old]
    release = tmp_path / "release"
    template = (TemplateBuilder("failover").add_task(HomeStep(name="before"))
                .add_node(Node(HeldStep(name="held"), parallel=True, context=on_agents(others)))
                .add_task(HomeStep(name="after")).build())
    gid = cluster.create_dag(template, dag_context(cluster, str(release)))
    wait_for(lambda: all(runs(cluster.home(a), "held") for a in others), timeout=60, what="held steps to run")

    cluster.kill(old)
    new = wait_for(lambda: (m := cluster.maintainer())[0] != old and m[1] < LEASE_S and m[0],
                   timeout=LEASE_S + RENEW_S + 10, what="another maintainer")
    assert new in others
    release.touch()
    dag = cluster.finished_dag(gid, via=others[0])
    assert (dag["state"], dag["stage"]) == ("SUCCEED", 3), dag
    assert pids_of(cluster, new, "after") == [cluster.pid(new)]
    assert all(len(runs(cluster.home(a), "held")) == 1 for a in others)

    cluster.start(old)
    wait_for(lambda: cluster.identity(old) == "CLUSTER AGENT", timeout=60, what="the old maintainer to rejoin")
    with cluster.rpc_client(old) as client:  # the rejoined agent watches the new maintainer
        seen = client.request("GET", "/rpc/v1/maintainer")["MaintainerInfo"]
    assert AgentInfo(seen["AgentIp"], seen["AgentPort"]) == new == cluster.maintainer()[0]


def test_executor_killed_mid_sub_task_fails_it_and_retry_completes(cluster: ClusterUnderTest, tmp_path) -> None:
    maintainer = cluster.active_maintainer()
    victim = next(a for a in cluster.agents if a != maintainer)
    release = tmp_path / "release"
    template = (TemplateBuilder("executor dies")
                .add_node(Node(HeldStep(name="victim"), parallel=True, context=on_agents([victim])))
                .add_task(HomeStep(name="then")).build())
    gid = cluster.create_dag(template, dag_context(cluster, str(release)))
    wait_for(lambda: runs(cluster.home(victim), "victim"), timeout=60, what="the held step to run")

    cluster.kill(victim)
    cluster.start(victim)  # the copy cannot continue: it fails as soon as the agent is back
    dag = cluster.finished_dag(gid, via=maintainer)
    assert dag["state"] == "FAILED", dag
    failed = dag["nodes"][0]["sub_tasks"][0]
    assert failed["state"] == "FAILED"
    assert "ERROR: task unexpectedly interrupted and cannot continue" in failed["task_logs"]

    release.touch()
    with cluster.client(victim) as client:
        client.request("POST", f"/api/v1/task/dag/{gid}", {"operator": "RETRY"})
    dag = cluster.finished_dag(gid, via=victim)
    assert (dag["state"], dag["stage"]) == ("SUCCEED", 2), dag
    lines = runs(cluster.home(victim), "victim")
    assert len(lines) == 2 and int(lines[1].split()[0]) == cluster.pid(victim)


def test_an_executor_left_dead_is_named_in_its_failed_sub_task_and_retry_completes(
        cluster: ClusterUnderTest, tmp_path) -> None:
    maintainer = cluster.active_maintainer()
    victim = next(a for a in cluster.agents if a != maintainer)
    release = tmp_path / "release"
    template = (TemplateBuilder("executor stays dead")
                .add_node(Node(HeldStep(name="silent"), parallel=True, context=on_agents([victim])))
                .add_task(HomeStep(name="then")).build())
    gid = cluster.create_dag(template, dag_context(cluster, str(release)))
    wait_for(lambda: runs(cluster.home(victim), "silent"), timeout=60, what="the held step to run")

    cluster.kill(victim)  # and not started again: without the watch the DAG would stay RUNNING forever
    dag = cluster.finished_dag(gid, via=maintainer, timeout=SILENCE_S + 30)
    assert dag["state"] == "FAILED", dag
    failed = dag["nodes"][0]["sub_tasks"][0]
    message = next(line for line in failed["task_logs"] if "heart-beat" in line)
    assert f"agent {victim}, which runs this sub task, has sent no heart-beat for" in message
    assert "Start that agent again, then RETRY" in message

    cluster.start(victim)
    wait_for(lambda: cluster.identity(victim) == "CLUSTER AGENT", timeout=60, what="the executor to rejoin")
    release.touch()
    with cluster.client(maintainer) as client:
        client.request("POST", f"/api/v1/task/dag/{gid}", {"operator": "RETRY"})
    dag = cluster.finished_dag(gid, via=victim)
    assert (dag["state"], dag["stage"]) == ("SUCCEED", 2), dag
    assert len(runs(cluster.home(victim), "silent")) == 2
