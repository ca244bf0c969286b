"""obshell's official Python SDK (PyPI ``obshell``, pinned in the test extras) drives pyobshell
exactly as its documentation shows: status and info, package upload, the upgrade check, a
rolling upgrade to SUCCEED, the task reads, a failed step and RETRY, a wrong password, a
rotated agent key, and a stop-service upgrade (multiprocess, --net 53 and 54).

Where the SDK itself is wrong, the test says so and works around it; obshell's wire format is
never bent to suit it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from obshell import ClientSet
from obshell.auth import PasswordAuth
from obshell.model.task import DagDetailDTO
from obshell.service.client_v1 import OBShellHandleError, TaskExecuteFailedError

from pyobshell.client import ObshellClient
from pyobshell.sim.faults import clear_fault, set_fault
from tests.helpers.sim import connect, query, run_cli, sim_cluster, wait_for
from tests.helpers import nets

pytestmark = [pytest.mark.multiprocess, pytest.mark.obshell_sdk]

PASSWORD = "sdk-Passw0rd!"
UPGRADE_NET, STOP_SERVICE_NET = nets.SDK_UPGRADE, nets.SDK_STOP_SERVICE
RELEASES = {"4.2.1.1": "101000062023110109.el7", "4.2.1.2": "102000032023120512.el7"}
# An observer that never serves fails its restart after 12 s (not 300 s).
SHORT_WAITS = {"PYOBSHELL_UPGRADE_TIMINGS": "cluster_ready_wait_s=12"}


def sdk(agent: dict, password: str = PASSWORD) -> ClientSet:
    return ClientSet(agent["ip"], agent["port"], PasswordAuth(password))


def build_packages(out: Path, dep_yml: Path | None = None) -> list[Path]:
    """oceanbase-ce and -libs of every version, written by `pyobshell sim package`."""
    paths = []
    for version, release in RELEASES.items():
        extra = ["--dep-yml", str(dep_yml)] if dep_yml else []
        run_cli("sim", "package", "--version", version, "--release", release, "--out", str(out), *extra)
        paths += sorted(out.glob(f"oceanbase-ce*-{version}-{release}.x86_64.rpm"))
    return paths


def route_file(path: Path) -> Path:
    path.write_text("- version: 4.2.1.0\n  can_be_upgraded_to:\n    - 4.2.1.1\n"
                    "- version: 4.2.1.1\n  can_be_upgraded_to:\n    - 4.2.1.2\n"
                    "- version: 4.2.1.2\n  can_be_upgraded_to: []\n")
    return path


def builds(observer: dict) -> set[str]:
    with connect(observer, PASSWORD) as conn:
        return {row[0].split("_")[0] for row in query(conn, "SELECT BUILD_VERSION FROM DBA_OB_SERVERS")}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("sdk")
    rpms = build_packages(root / "rpm", route_file(root / "dep.yml"))
    with sim_cluster(root / "c", UPGRADE_NET, zones=3, password=PASSWORD, agents=True, env=SHORT_WAITS) as document:
        document["dir"], document["rpms"] = root / "c", rpms
        yield document


@pytest.fixture(scope="module")
def client(cluster: dict) -> ClientSet:
    return sdk(cluster["agents"][0])


# -- the first steps of the SDK's documentation -------------------------------------------------


def test_status_info_and_ob_info(cluster: dict, client: ClientSet) -> None:
    status = client.v1.get_status()
    assert status.agent.ip == cluster["agents"][0]["ip"] and status.agent.identity == "CLUSTER AGENT"
    assert status.state == 2 and status.ob_state == 3 and status.version.startswith("4.5.0.0")
    # SDK bug: AgentStatusWithOb reads "start_at" and "under_maintenance", but obshell's status
    # answers startAt and underMaintenance (camelCase) — so these stay None with any obshell.
    assert status.start_at is None and status.under_maintenance is None

    info = client.v1.get_info()
    assert (info.identity, info.ip, info.port) == ("CLUSTER AGENT", cluster["agents"][0]["ip"], 2886)
    assert info.version.startswith("4.5.0.0") and info.zone == "zone1"

    ob = client.v1.get_ob_info()
    assert sorted(agent.zone for agent in ob.agents) == ["zone1", "zone2", "zone3"]
    assert sorted(ob.cluster.zone_config) == ["zone1", "zone2", "zone3"]
    servers = [server for members in ob.cluster.zone_config.values() for server in members]
    assert {s.build_version.split("_")[0] for s in servers} == {"4.2.1.0"} and len(servers) == 3


def test_upload_both_packages(cluster: dict, client: ClientSet) -> None:
    for rpm in cluster["rpms"]:
        # SDK bug: upload_pkg builds the UpgradePkgInfo answer and drops it (returns None).
        assert client.v1.upload_pkg(str(rpm)) is None
    with ObshellClient(f"{cluster['agents'][1]['ip']}:2886", password=PASSWORD) as ours:
        stored = sorted(p.rpm_file_name for p in ours.list_packages())
    assert stored == sorted(rpm.name for rpm in cluster["rpms"])


def test_upgrade_check_with_the_default_dir(client: ClientSet) -> None:
    dag = client.v1.upgrade_ob_check_sync("4.2.1.1", RELEASES["4.2.1.1"])
    assert dag.is_succeed() and dag.name == f"Upgrade check OB 4.2.1.1-{RELEASES['4.2.1.1']}"


def test_rolling_upgrade_succeeds_and_every_server_runs_the_new_build(cluster: dict, client: ClientSet) -> None:
    dag = client.v1.upgrade_ob_sync("4.2.1.1", RELEASES["4.2.1.1"], "ROLLING")
    assert dag.is_succeed() and dag.max_stage == 26 and len(dag.nodes) == 26
    assert builds(cluster["observers"][2]) == {"4.2.1.1"}
    cluster["first_upgrade"] = dag.generic_id


def test_task_reads(cluster: dict, client: ClientSet) -> None:
    gid = cluster["first_upgrade"]
    dag = client.v1.get_dag(gid)
    assert dag.is_succeed() and dag.generic_id == gid and dag.is_run()
    node = client.v1.get_node(dag.nodes[-1].generic_id)
    assert node.name == "Remove upgrade check task dir" and node.is_succeed() and len(node.sub_tasks) == 3
    task = client.v1.get_sub_task(node.sub_tasks[0].generic_id)
    assert task.is_succeed() and task.execute_agent.endswith(":2886") and task.task_logs

    assert client.v1.get_unfinished_dags() == [] and client.v1.get_cluster_unfinished_dag() == []
    assert client.v1.get_agent_unfinished_dag() == []
    # The upgrade is a cluster task: no agent holds a local maintenance DAG.
    assert client.v1.get_all_agent_last_maintenance_dag() == []
    with pytest.raises(OBShellHandleError) as caught:
        client.v1.get_agent_last_maintenance_dag()
    assert caught.value.err_code == "Task.NotFound"
    # SDK bug: get_ob_last_maintenance_dag reads a list ("contents") from a route that answers
    # one DAG, so it always gives []; the DAG is there, as the route itself shows.
    assert client.v1.get_ob_last_maintenance_dag() == []
    raw = client.v1._execute(client.v1.create_request("/api/v1/task/dag/maintain/ob", "GET"))
    assert DagDetailDTO.from_dict(raw.json()["data"]).generic_id == gid


def test_a_failed_step_carries_its_log_and_retry_completes(cluster: dict, client: ClientSet) -> None:
    version, release = "4.2.1.2", RELEASES["4.2.1.2"]
    zone1 = next(o for o in cluster["observers"] if o["zone"] == "zone1")
    server = f"{zone1['ip']}:{zone1['rpc_port']}"
    dag = client.v1.upgrade_ob(version, release, "ROLLING")
    nodes = client.v1.get_dag(dag.generic_id).nodes
    stop_zone1 = next(i for i, n in enumerate(nodes, start=1) if n.name == "Stop zone1")

    def stopping() -> bool:  # a tight poll: stopping a zone takes a fraction of a second
        current = client.v1.get_dag(dag.generic_id, show_detail=False)
        assert not current.is_finished(), current
        return current.stage >= stop_zone1

    wait_for(stopping, timeout=120, what="zone1 to be stopped")
    set_fault(cluster["dir"], "never_serve", server)
    try:
        with pytest.raises(TaskExecuteFailedError) as caught:
            client.v1.wait_dag_succeed(dag.generic_id)
    finally:
        clear_fault(cluster["dir"], "never_serve", server)
    assert "OB.Observer.WaitAvailableTimeout" in caught.value.message and zone1["ip"] in caught.value.message
    assert caught.value.dag.is_failed()

    assert client.v1.operate_dag_sync(dag.generic_id, "RETRY") is True
    assert client.v1.get_dag(dag.generic_id).is_succeed()
    assert builds(cluster["observers"][1]) == {"4.2.1.2"}


def test_a_wrong_password_is_obshells_incorrect_password(cluster: dict) -> None:
    wrong = sdk(cluster["agents"][1], password="not-it")
    with pytest.raises(OBShellHandleError) as caught:
        wrong.v1.get_ob_info()
    assert caught.value.err_code == "Security.Authentication.IncorrectOceanbasePassword"
    assert caught.value.code == 10008


def test_the_sdk_recovers_by_itself_when_the_agents_key_changes(cluster: dict) -> None:
    agent, observer = cluster["agents"][2], cluster["observers"][2]
    client = sdk(agent)
    assert len(client.v1.get_ob_info().agents) == 3  # the SDK has cached the agent's public key
    home = Path(agent["home"])
    run_cli("agent", "stop", "--home", str(home))
    (home / "agent_key.pem").unlink()  # a new key pair at the next start
    env = {**os.environ, "OB_ROOT_PASSWORD": PASSWORD}
    run_cli("agent", "start", "--home", str(home), "--ip", agent["ip"], "--port", str(agent["port"]),
            "--ob-home", observer["home"], env=env)
    with ObshellClient(f"{agent['ip']}:{agent['port']}", password=PASSWORD) as ours:
        wait_for(lambda: ours.info().identity == "CLUSTER AGENT", timeout=60, what="the agent to rejoin")
    # DecryptFailed (code 1) makes the SDK fetch the key again and re-send: no error reaches the user.
    assert len(client.v1.get_ob_info().agents) == 3


# -- stop-service on a fresh cluster -------------------------------------------------------------


def test_stop_service_upgrade_on_a_fresh_cluster(cluster: dict, tmp_path: Path) -> None:
    with sim_cluster(tmp_path / "c", STOP_SERVICE_NET, zones=1, password=PASSWORD, agents=True) as fresh:
        client = sdk(fresh["agents"][0])
        for rpm in cluster["rpms"]:
            if "4.2.1.1" in rpm.name:
                client.v1.upload_pkg(str(rpm))
        dag = client.v1.upgrade_ob_sync("4.2.1.1", RELEASES["4.2.1.1"], "STOPSERVICE")
        assert dag.is_succeed() and dag.name == f"OB stop service upgrade 4.2.1.1-{RELEASES['4.2.1.1']}"
        assert builds(fresh["observers"][0]) == {"4.2.1.1"}
