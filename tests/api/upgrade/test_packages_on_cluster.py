"""Real agents on a simulated 3-zone cluster: packages stored in the cluster's ``ocs`` database
through one agent are listed, read back and planned with by another (multiprocess, --net 51)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyobshell.client import ObshellApiError, ObshellClient
from pyobshell.sim.package_builder import build_packages
from tests.helpers.sim import sim_cluster, wait_for
from tests.helpers import nets

NET = nets.PACKAGES_ON_CLUSTER
PASSWORD = "pkg-cluster-pw"
RELEASE = "101000062023110109.el7"


def store_open(agent: ObshellClient) -> bool:
    try:
        agent.list_packages()
    except ObshellApiError as error:
        if error.err_code == "Package.Store.Unavailable":
            return False
        raise
    return True


@pytest.mark.multiprocess
def test_packages_and_plan_on_a_simulated_cluster(tmp_path: Path):
    rpms = build_packages("4.2.1.1", RELEASE, tmp_path / "rpms")
    with sim_cluster(tmp_path / "c", net=NET, zones=3, password=PASSWORD, agents=True) as cluster:
        first, second = (ObshellClient(f"{a['ip']}:{a['port']}", password=PASSWORD) for a in cluster["agents"][:2])
        with first, second:
            for agent in (first, second):
                wait_for(lambda agent=agent: store_open(agent), timeout=90, what="the cluster package store")
            stored = [first.upload_package(path) for path in rpms]
            assert {p.pkg_id for p in second.list_packages()} == {p.pkg_id for p in stored}

            copy = second.download_package(stored[0].pkg_id, tmp_path / "back.rpm")
            assert copy.read_bytes() == rpms[0].read_bytes()

            plan = second.request("POST", "/api/v1/ob/upgrade/plan",
                                  {"version": "4.2.1.1", "release": RELEASE, "mode": "ROLLING", "upgradeDir": ""})
            assert plan["current_version"] == "4.2.1.0-100000012023101010"
            assert plan["max_stage"] == 26 and plan["ready"] is True
            zones = [s["zone"] for s in plan["stages"] if s["name"] == "Reinstall and restart observer"]
            assert zones == [o["zone"] for o in cluster["observers"]]
            header = plan["stages"][0]["agents"]
            assert sorted((a["ip"], a["port"]) for a in header) == sorted((a["ip"], a["port"]) for a in cluster["agents"])

            second.delete_package(stored[0].pkg_id)
            assert [p.pkg_id for p in first.list_packages()] == [stored[1].pkg_id]
