"""An agent whose own observer is down keeps serving the cluster store through the others
(multiprocess, --net 52): task reads and sessions answer, and only a cluster with no observer
left would be 503."""

from __future__ import annotations

import time

import pytest

from pyobshell.client import ObshellClient
from tests.helpers.sim import kill_observer, sim_cluster, start_observer, wait_for
from tests.helpers import nets

pytestmark = pytest.mark.multiprocess

NET = nets.STORE_FAILOVER
PASSWORD = "failover-Pw1"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    with sim_cluster(tmp_path_factory.mktemp("failover") / "c", net=NET, zones=3, password=PASSWORD,
                     agents=True) as document:
        yield document


def test_reads_go_on_while_the_agents_own_observer_is_down(cluster: dict) -> None:
    agent = cluster["agents"][0]
    with ObshellClient(f"{agent['ip']}:{agent['port']}", password=PASSWORD) as client:
        wait_for(lambda: client.info().identity == "CLUSTER AGENT", timeout=60, what="the agent to join")
        assert client.request("GET", "/api/v1/task/dag/ob/unfinish") == {"contents": []}
        kill_observer(cluster["observers"][0])
        try:
            deadline = time.monotonic() + 8  # past the probe interval, the pool's idle ping and the lease
            answers = 0
            while time.monotonic() < deadline:
                assert client.request("GET", "/api/v1/task/dag/ob/unfinish") == {"contents": []}
                assert client.request("GET", "/api/v1/task/dags/ob") == {"contents": []}
                answers += 1
                time.sleep(0.2)
            assert answers > 10
            assert client.status().obState == 0  # its own observer is down, and it says so
        finally:
            start_observer(cluster["observers"][0])
        wait_for(lambda: client.status().obState == 3, timeout=60, what="the observer back")
