"""POST /api/v1/ob/upgrade on simulated 3-zone clusters with agents, beyond the one-hop rolling
seed: stop-service (every observer restarted at once) and a two-hop route through a barrier
version whose binary must be installed on the way."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from tests.helpers.sim import connect, query, sim_cluster

from pyobshell.ob.process import process_start_time

from tests.helpers import nets
from tests.api.upgrade.upgrade_runs import (
    QUICK_POLLS,
    OLD_VERSION,
    PLAN,
    RELEASES,
    UPGRADE,
    body,
    build_packages,
    client_for,
    cluster_versions,
    node_logs,
    outline,
    route_file,
    wait_finished,
)

pytestmark = pytest.mark.multiprocess

PASSWORD = "modes-Passw0rd"
STOP_SERVICE_NET, TWO_HOP_NET = nets.API_STOP_SERVICE, nets.API_TWO_HOP


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """4.2.1.1 and 4.2.1.2 over a route 4.2.1.0 -> 4.2.1.1 (barrier) -> 4.2.1.2."""
    root = tmp_path_factory.mktemp("packages")
    versions = [OLD_VERSION, "4.2.1.1", "4.2.1.2"]
    return build_packages(root / "rpm", versions[1:], route_file(root / "dep.yml", versions, barriers=("4.2.1.1",)))


def process_start(observer: dict) -> float:
    """When the observer process now running started (seconds since the epoch)."""
    started = process_start_time(int((Path(observer["home"]) / "run" / "observer.pid").read_text()))
    assert started is not None
    return started


def moment(text: str) -> float:
    """An RFC 3339 time of the DAG as seconds since the epoch."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_stop_service_upgrade_restarts_every_observer_at_once(tmp_path: Path, packages: list[Path]) -> None:
    with sim_cluster(tmp_path / "c", STOP_SERVICE_NET, password=PASSWORD, agents=True, env=QUICK_POLLS) as cluster:
        api = client_for(cluster["agents"][2], PASSWORD)
        for package in packages:
            if "4.2.1.1" in package.name:
                api.upload_package(package)
        created = api.request("POST", UPGRADE, body("4.2.1.1", mode="stopservice"))
        assert created["name"] == f"OB stop service upgrade 4.2.1.1-{RELEASES['4.2.1.1']}"
        assert (created["stage"], created["max_stage"], created["state"]) == (1, 5 + 8 + 1, "READY")

        dag = wait_finished(api, created["id"])
        assert dag["state"] == "SUCCEED", outline(dag)
        names = [node["name"] for node in dag["nodes"]]
        assert not any(name.startswith(("Stop zone", "Start zone")) for name in names)
        (reinstall,) = [node for node in dag["nodes"] if node["name"] == "Reinstall and restart observer"]
        tasks = reinstall["sub_tasks"]
        assert {(t["execute_agent"]["ip"], t["execute_agent"]["port"]) for t in tasks} == {
            (a["ip"], a["port"]) for a in cluster["agents"]}
        assert sum(" killed (" in line for line in node_logs(dag, reinstall["name"])) == 3
        assert cluster_versions(cluster["observers"][0], PASSWORD) == ({"4.2.1.1"}, {"4.2.1.1"})
        with connect(cluster["observers"][1], PASSWORD) as conn:
            assert query(conn, "SELECT DISTINCT STATUS FROM DBA_OB_ZONES") == [("ACTIVE",)]
        # at once: the three restart runs overlap, and every new observer process started
        # before any of those runs ended (a run ends only when the whole cluster serves again)
        runs = [(moment(t["start_time"]), moment(t["end_time"])) for t in tasks]
        assert max(start for start, _ in runs) < min(end for _, end in runs), runs
        started = {o["ip"]: process_start(o) for o in cluster["observers"]}
        assert max(started.values()) < min(end for _, end in runs), (started, runs)


def test_two_hop_upgrade_installs_the_barrier_binary_on_the_way(tmp_path: Path, packages: list[Path]) -> None:
    with sim_cluster(tmp_path / "c", TWO_HOP_NET, password=PASSWORD, agents=True, env=QUICK_POLLS) as cluster:
        api = client_for(cluster["agents"][0], PASSWORD)
        for package in packages:
            api.upload_package(package)
        plan = api.request("POST", PLAN, body("4.2.1.2"))
        barrier, target = plan["route"]
        assert (barrier["version"], barrier["role"], target["version"], target["role"]) == (
            "4.2.1.1", "barrier", "4.2.1.2", "target")
        assert plan["ready"] and plan["missing_packages"] == []
        assert plan["max_stage"] == 5 + 2 * (5 + 3 * 5) + 1 == len(plan["stages"])
        assert [s["hop"] for s in plan["stages"] if s["name"] == "Execute upgrade post script"] == [0, 1]

        created = api.request("POST", UPGRADE, body("4.2.1.2"))
        assert created["max_stage"] == plan["max_stage"] and created["name"] == plan["name"]
        dag = wait_finished(api, created["id"])
        assert dag["state"] == "SUCCEED", outline(dag)
        assert [n["name"] for n in dag["nodes"]] == [s["name"] for s in plan["stages"]]
        # each observer is killed twice: once for the barrier's binary, once for the target's
        assert sum(" killed (" in line for line in node_logs(dag, "Reinstall and restart observer")) == 6
        post = node_logs(dag, "Execute upgrade post script")
        assert any("verified" in line and "4.2.1.1" in line for line in post)
        assert cluster_versions(cluster["observers"][2], PASSWORD) == ({"4.2.1.2"}, {"4.2.1.2"})
        with connect(cluster["observers"][0], PASSWORD) as conn:
            builds = {row[0] for row in query(conn, "SELECT BUILD_VERSION FROM DBA_OB_SERVERS")}
        assert all(b.startswith(f"4.2.1.2_{RELEASES['4.2.1.2'].split('.')[0]}") for b in builds), builds
