"""POST /api/v1/ob/upgrade when things go wrong, on simulated clusters with agents: racing
requests, an observer that never comes back, a failing upgrade script (each recovered with
RETRY), and pre-checks that refuse to start, listing every cause and creating no DAG.

The 3-zone cluster is shared: it is upgraded one version per test (4.2.1.0 -> .1 -> .2 -> .3)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pymysql
import pytest
from sqlalchemy.exc import DBAPIError
from tests.helpers.sim import connect, query, sim_cluster, wait_for

from pyobshell.client import ObshellApiError, ObshellClient
from pyobshell.engine.store import make_engine
from pyobshell.sim.faults import clear_fault, set_fault
from pyobshell.upgrade.packages.store import PACKAGE_STORE_FAILED, PackageStore
from pyobshell.upgrade.environment import UpgradeTimings

from tests.helpers import nets
from tests.api.upgrade.upgrade_runs import (
    SHORT_WAITS,
    OLD_VERSION,
    PLAN,
    UPGRADE,
    body,
    build_packages,
    client_for,
    cluster_versions,
    failed_node,
    node_logs,
    outline,
    retry,
    route_file,
    wait_finished,
)

PASSWORD = "fail-Passw0rd"
CHAIN_NET, PRECHECK_NET = nets.API_CHAIN, nets.API_PRECHECK
VERSIONS = [OLD_VERSION, "4.2.1.1", "4.2.1.2", "4.2.1.3"]
REINSTALL = "Reinstall and restart observer"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """A 3-zone cluster with every package of the chain 4.2.1.0 -> .1 -> .2 -> .3 uploaded."""
    root = tmp_path_factory.mktemp("chain")
    rpms = build_packages(root / "rpm", VERSIONS[1:], route_file(root / "dep.yml", VERSIONS))
    with sim_cluster(root / "c", CHAIN_NET, password=PASSWORD, agents=True, env=SHORT_WAITS) as document:
        api = client_for(document["agents"][0], PASSWORD)
        for rpm in rpms:
            api.upload_package(rpm)
        document["dir"] = root / "c"
        yield document


def starting_from(cluster: dict, version: str) -> None:
    """These tests build on each other's upgrades; say so clearly when an earlier one failed."""
    try:
        builds, _ = cluster_versions(cluster["observers"][0], PASSWORD)
    except pymysql.MySQLError as error:
        pytest.skip(f"the shared cluster does not answer ({error}): an earlier upgrade failed")
    if builds != {version}:
        pytest.skip(f"the shared cluster runs {sorted(builds)}, not {version}: an earlier upgrade failed")


def stage_reached(api: ObshellClient, gid: str, stage: int, timeout: float = 120) -> dict:
    """Poll the DAG tightly (a stage can last a fraction of a second) until it reaches ``stage``
    or ends."""
    deadline = time.monotonic() + timeout
    while True:
        current = api.request("GET", f"/api/v1/task/dag/{gid}", query={"show_details": "false"})
        if current["stage"] >= stage or current["state"] in ("FAILED", "SUCCEED"):
            return current
        assert time.monotonic() < deadline, f"DAG {gid} did not reach stage {stage} in {timeout} s: {current}"
        time.sleep(0.02)


@pytest.mark.multiprocess
def test_concurrent_upgrade_requests_create_exactly_one_dag(cluster: dict) -> None:
    starting_from(cluster, "4.2.1.0")
    clients = [client_for(agent, PASSWORD) for agent in cluster["agents"]]
    for api in clients:
        api.builder()  # each client fetches its agent's key now, not inside the race
    start = threading.Barrier(20)

    def ask(index: int) -> tuple[int, dict, float]:
        api = clients[index % len(clients)]
        start.wait()
        began = time.monotonic()
        response = api.raw_request("POST", UPGRADE, body("4.2.1.1"))
        return response.status_code, response.json(), time.monotonic() - began

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(ask, range(20)))
    created = [envelope["data"] for status, envelope, _ in answers if status == 200]
    assert len(created) == 1, answers
    dag = created[0]
    refused = [(status, envelope["error"]) for status, envelope, _ in answers if status != 200]
    assert len(refused) == 19
    for status, error in refused:  # obshell's own refusal, naming the running DAG and its id
        assert (status, error["errCode"]) == (409, "OB.Cluster.UnderMaintenanceWithDag"), error
        assert f"{dag['name']} (id {dag['id']})" in error["message"], error
    print("refusal times (s):", sorted(round(seconds, 2) for status, _, seconds in answers if status != 200))
    print("of which in the agent (ms):", sorted(envelope.get("duration") for status, envelope, _ in answers if status != 200))
    alone = []
    for api in clients:  # one at a time, while the DAG runs: the refusal's own cost
        began = time.monotonic()
        assert api.raw_request("POST", UPGRADE, body("4.2.1.1")).status_code == 409
        alone.append(round(time.monotonic() - began, 3))
    print("refusal times one at a time (s):", alone)
    listed = clients[1].request("GET", "/api/v1/task/dags/ob", query={"show_details": "false"})["contents"]
    upgrades = [d for d in listed if d["name"].startswith("OB rolling upgrade")]
    assert [d["id"] for d in upgrades] == [dag["id"]]

    final = wait_finished(clients[2], dag["id"])
    assert final["state"] == "SUCCEED", outline(final)
    assert cluster_versions(cluster["observers"][1], PASSWORD) == ({"4.2.1.1"}, {"4.2.1.1"})


@pytest.mark.multiprocess
def test_an_observer_that_never_serves_fails_the_reinstall_and_retry_completes(cluster: dict) -> None:
    starting_from(cluster, "4.2.1.1")
    api = client_for(cluster["agents"][1], PASSWORD)
    stages = [s["name"] for s in api.request("POST", PLAN, body("4.2.1.2"))["stages"]]
    stop_zone1 = stages.index("Stop zone1") + 1  # the DAG's 1-based stage
    zone1 = next(o for o in cluster["observers"] if o["zone"] == "zone1")
    server = f"{zone1['ip']}:{zone1['rpc_port']}"
    dag = api.request("POST", UPGRADE, body("4.2.1.2"))

    seen = stage_reached(api, dag["id"], stop_zone1)  # zone1 is being stopped: its observer restarts next
    # Stopping a zone takes a fraction of a second; the restart that follows takes longer than
    # one poll, so the fault is set before the new observer could serve.
    assert seen["stage"] in (stop_zone1, stop_zone1 + 1) and seen["state"] == "RUNNING", seen
    set_fault(cluster["dir"], "never_serve", server)
    try:
        failed = wait_finished(api, dag["id"])
    finally:
        clear_fault(cluster["dir"], "never_serve", server)
    assert failed["state"] == "FAILED", outline(failed)
    node = failed_node(failed)
    assert node["name"] == REINSTALL and failed["stage"] == stop_zone1 + 1
    (task,) = node["sub_tasks"]
    assert task["execute_agent"]["ip"] == zone1["ip"]
    last = task["task_logs"][-1]
    assert last.startswith("ERROR: [OB.Observer.WaitAvailableTimeout]: wait all observer available timeout"), last
    assert f"not in service: {server} (" in last and "observer.log" in last

    retry(api, dag["id"])
    final = wait_finished(api, dag["id"])
    assert final["state"] == "SUCCEED", outline(final)
    reinstall = node_logs(final, REINSTALL)
    assert any("already runs" in line and "not restarting it" in line for line in reinstall)
    assert cluster_versions(zone1, PASSWORD) == ({"4.2.1.2"}, {"4.2.1.2"})


@pytest.mark.multiprocess
def test_a_failing_upgrade_script_fails_its_node_with_the_output_and_retry_completes(cluster: dict) -> None:
    starting_from(cluster, "4.2.1.2")
    api = client_for(cluster["agents"][2], PASSWORD)
    set_fault(cluster["dir"], "upgrade_job_fails")  # upgrade_post.py's upgrade job ends FAILED
    try:
        dag = api.request("POST", UPGRADE, body("4.2.1.3", mode="STOPSERVICE"))
        failed = wait_finished(api, dag["id"])
    finally:
        clear_fault(cluster["dir"], "upgrade_job_fails")
    assert failed["state"] == "FAILED", outline(failed)
    node = failed_node(failed)
    assert node["name"] == "Execute upgrade post script"
    logs = node["sub_tasks"][0]["task_logs"]
    assert any("etc/upgrade_post.py exited with 1; its last lines:" in line
               and "upgrade job" in line and "failed, see __all_rootservice_job" in line for line in logs), logs
    assert logs[-1].startswith("ERROR: [OB.Upgrade.ScriptFailed]"), logs[-1]

    retry(api, dag["id"])
    final = wait_finished(api, dag["id"])
    assert final["state"] == "SUCCEED", outline(final)
    assert any("verified" in line for line in node_logs(final, "Execute upgrade post script"))
    assert cluster_versions(cluster["observers"][0], PASSWORD) == ({"4.2.1.3"}, {"4.2.1.3"})


class MajorCompaction(threading.Thread):
    """Keeps a major compaction running (the fast simulator ends one in half a second)."""

    def __init__(self, observer: dict):
        super().__init__(daemon=True)
        self.observer, self.stop = observer, threading.Event()

    def run(self) -> None:
        with connect(self.observer, PASSWORD) as conn:
            while not self.stop.is_set():
                query(conn, "ALTER SYSTEM MAJOR FREEZE TENANT = ALL")
                self.stop.wait(0.1)


@pytest.mark.multiprocess
def test_precheck_failures_are_all_listed_and_no_dag_is_created(tmp_path: Path) -> None:
    route = route_file(tmp_path / "dep.yml", VERSIONS[:2])
    ce = next(p for p in build_packages(tmp_path / "rpm", ["4.2.1.1"], route) if "-libs-" not in p.name)
    with sim_cluster(tmp_path / "c", PRECHECK_NET, zones=2, password=PASSWORD, agents=True) as cluster:
        api = client_for(cluster["agents"][0], PASSWORD)
        api.upload_package(ce)  # oceanbase-ce only: -libs is missing
        with connect(cluster["observers"][0], PASSWORD) as conn:
            query(conn, "ALTER SYSTEM FORCE STOP ZONE 'zone2'")  # a 2-zone cluster refuses a plain STOP
        compaction = MajorCompaction(cluster["observers"][0])
        compaction.start()
        try:
            wait_for(lambda: _compacting(cluster["observers"][0]), 10, "a major compaction")
            with pytest.raises(ObshellApiError) as refused:
                api.request("POST", UPGRADE, body("4.2.1.1", mode="ROLLING"))
        finally:
            compaction.stop.set()
            compaction.join(10)
        error = refused.value
        assert (error.status, error.err_code) == (400, "OB.Upgrade.PreCheckFailed")
        codes = Counter(sub["errCode"] for sub in error.sub_errors)
        for code in ("OB.Upgrade.UnableToRollingUpgrade", "OB.Upgrade.ZoneNotActive",
                     "OB.Upgrade.TenantInMajorCompaction", "OB.Package.NotExist"):
            assert codes[code] == 1, error.sub_errors
        messages = {sub["errCode"]: sub["message"] for sub in error.sub_errors}
        assert "zone2" in messages["OB.Upgrade.ZoneNotActive"]
        assert "oceanbase-ce-libs-4.2.1.1" in messages["OB.Package.NotExist"]
        for sub in error.sub_errors:
            assert sub["message"] in error.message
        _assert_no_dag(api)


def _compacting(observer: dict) -> bool:
    with connect(observer, PASSWORD) as conn:
        return bool(query(conn, "SELECT count(*) FROM CDB_OB_MAJOR_COMPACTION WHERE STATUS != 'IDLE'")[0][0])


def _assert_no_dag(api: ObshellClient) -> None:
    assert api.request("GET", "/api/v1/task/dag/ob/unfinish")["contents"] == []
    with pytest.raises(ObshellApiError) as missing:
        api.request("GET", "/api/v1/task/dag/maintain/ob")
    assert missing.value.status == 404


def test_agents_read_wait_budgets_from_the_environment() -> None:
    timings = UpgradeTimings.from_env({"PYOBSHELL_UPGRADE_TIMINGS": "cluster_ready_wait_s=6, poll_max_s=0.3"})
    assert (timings.cluster_ready_wait_s, timings.poll_max_s) == (6.0, 0.3)
    assert timings.zone_wait_s == UpgradeTimings().zone_wait_s
    assert UpgradeTimings.from_env({}) == UpgradeTimings()
    for bad in ("cluster_ready_wait=6", "poll_max_s", "poll_max_s=soon", "zone_wait_s=-1", "script_timeout_s=2.5"):
        with pytest.raises(ValueError, match="PYOBSHELL_UPGRADE_TIMINGS"):
            UpgradeTimings.from_env({"PYOBSHELL_UPGRADE_TIMINGS": bad})


def test_a_package_upload_rolled_back_by_a_deadlock_is_restarted(tmp_path: Path, monkeypatch) -> None:
    """OceanBase (and the simulator) break a deadlock by rolling one transaction back (1213)."""
    store = PackageStore(make_engine(f"sqlite:///{tmp_path / 'packages.db'}"))
    rpm = next(p for p in build_packages(tmp_path / "rpm", ["4.2.1.1"], route_file(tmp_path / "dep.yml", VERSIONS[:2]))
               if "-libs-" in p.name)
    store_once, attempts = PackageStore._store, []

    def deadlocked_first(self, path, info):
        attempts.append(path)
        if len(attempts) == 1:
            cause = DBAPIError("INSERT", {}, pymysql.err.OperationalError(1213, "Deadlock found"))
            raise PACKAGE_STORE_FAILED("cannot store the package: Deadlock found") from cause
        return store_once(self, path, info)

    monkeypatch.setattr(PackageStore, "_store", deadlocked_first)
    stored = store.add(rpm)
    assert len(attempts) == 2 and [p.pkg_id for p in store.list()] == [stored.pkg_id]
