"""The maintainer election's SQL against a simulated observer and against seekdb, a real
OceanBase SQL engine (NOW(6), TIMESTAMPDIFF on the database clock): one maintainer at a time,
take-over only after the lease, renew by the holder."""

from __future__ import annotations

from tests.helpers.clock import FakeClock

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyobshell.agent.tasks import cluster_store_url, open_cluster_store
from pyobshell.cluster.maintainer_election import MaintainerElection
from pyobshell.engine import AgentInfo, StoreKind, TaskStore
from pyobshell.ob.target import ObserverTarget
from tests.helpers.sim import sim_cluster, wait_for
from tests.helpers import nets

NET = nets.MAINTAINER_ELECTION
PASSWORD = "election-pw"
LEASE_S = 1.0
A, B = AgentInfo("10.0.0.1", 2886), AgentInfo("10.0.0.2", 2886)


@pytest.fixture(scope="module", params=[pytest.param("sim", marks=pytest.mark.multiprocess),
                                       pytest.param("seekdb", marks=pytest.mark.seekdb)])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaskStore]:
    if request.param == "seekdb":
        store = TaskStore(request.getfixturevalue("seekdb_url"), StoreKind.CLUSTER, owner=A)
        try:
            yield store
        finally:
            store.close()
        return
    with sim_cluster(tmp_path_factory.mktemp("election-sim") / "c", net=NET, zones=1, password=PASSWORD) as doc:
        observer = doc["observers"][0]
        target = ObserverTarget(ob_home=Path(observer["home"]), host=observer["ip"], sql_port=observer["sql_port"])
        assert cluster_store_url(target, PASSWORD)
        store = open_cluster_store(target, lambda: PASSWORD, A)
        try:
            yield store
        finally:
            store.close()


def test_first_taker_wins_the_other_waits_for_the_lease(store: TaskStore) -> None:
    a = MaintainerElection(store.engine, A, LEASE_S)
    b = MaintainerElection(store.engine, B, LEASE_S)
    # Whoever held the row before (an earlier test) must first let the lease run out.
    wait_for(lambda: a.try_take(), timeout=10, what="A to take the lease")
    assert a.is_maintainer
    assert not b.try_take() and not b.is_maintainer
    row = b.read()
    assert row.agent == A and row.is_active(LEASE_S) and row.counter == 1
    assert a.renew() and b.read().counter == 2
    assert not b.renew()  # only the holder renews

    # A stops renewing: B takes over once the lease ran out on the database clock, not before.
    took = wait_for(lambda: b.try_take() and time.monotonic(), timeout=10, what="B to take over")
    assert took and b.is_maintainer and b.read().agent == B
    assert not a.renew()  # A's renew no longer matches the row
    assert not a.is_maintainer


def test_belief_ends_before_anyone_else_can_take(store: TaskStore) -> None:
    clock = FakeClock(1000.0)
    a = MaintainerElection(store.engine, A, LEASE_S, monotonic=clock)
    wait_for(lambda: a.try_take(), timeout=10, what="A to take the lease")
    clock.now += LEASE_S - 0.01
    assert a.is_maintainer
    clock.now += 0.02
    assert not a.is_maintainer  # lease elapsed on A's own clock: A stops acting as maintainer
    assert a.renew() and a.is_maintainer  # the row still names A: a late renew restores the lease
