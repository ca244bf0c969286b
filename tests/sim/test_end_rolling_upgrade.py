"""ALTER SYSTEM END ROLLING UPGRADE as the root service's build does it (ObAdminRollingUpgradeCmd):
up to 4.2.1.2 it ends the rolling phase at once with min_observer_version at the lowest server
version; from 4.2.1.3 on it waits, for rpc_timeout, until every server reports its own version."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pyobshell.sim.observer_binary import render_observer_script
from tests.helpers import nets
from tests.helpers.drivers import DRIVERS, ask, session
from tests.helpers.sim import kill_observer, sim_cluster, start_observer, wait_for

pytestmark = pytest.mark.multiprocess
PASSWORD = "rootpw"
RELEASE = "100000012023101010.el7"
OB_TIMEOUT = 4012


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict]:
    version, net = request.param
    with sim_cluster(tmp_path / "c", net=net, version=version, password=PASSWORD) as document:
        yield document


def run_build(cluster: dict, index: int, version: str) -> None:
    """Restart observer ``index`` on ``version``'s binary, as a rolling upgrade does, and wait
    until every observer is back in service."""
    observer = cluster["observers"][index]
    kill_observer(observer)
    binary = Path(observer["home"]) / "bin" / "observer"
    binary.write_text(render_observer_script(version, RELEASE))
    start_observer(observer)
    wait_for(lambda: parameter(cluster, "select count(*) from DBA_OB_SERVERS where STATUS = 'ACTIVE' "
                                        "and START_SERVICE_TIME is not null and WITH_ROOTSERVER = 'YES' "
                                        f"and SVR_IP = '{cluster['observers'][0]['ip']}'") == 1
             and parameter(cluster, "select count(*) from DBA_OB_SERVERS where START_SERVICE_TIME is not null") == 3,
             20, f"observer {index} back on {version} and the root service on the first observer")


def parameter(cluster: dict, sql: str) -> object:
    with session("pymysql", cluster["observers"][0], PASSWORD) as conn:
        return ask(conn, sql).rows[0][0]


def values(cluster: dict, name: str) -> set[str]:
    with session("pymysql", cluster["observers"][0], PASSWORD) as conn:
        return {r[0] for r in ask(conn, f"select distinct VALUE from GV$OB_PARAMETERS where NAME = '{name}'").rows}


def upgrade_events(cluster: dict) -> tuple[tuple, ...]:
    with session("pymysql", cluster["observers"][0], PASSWORD) as conn:
        return ask(conn, "select EVENT, NAME1, VALUE1, NAME2, VALUE2, NAME3 from DBA_OB_CLUSTER_EVENT_HISTORY "
                         "where MODULE = 'UPGRADE' order by TIMESTAMP").rows


@pytest.mark.parametrize("cluster", [("4.2.1.1", nets.SIM_ROLLING_END_AT_ONCE)], indirect=True)
def test_before_4213_the_rolling_phase_ends_at_once_at_the_lowest_version(cluster: dict) -> None:
    run_build(cluster, 0, "4.2.1.2")  # the root service's observer runs the newer build, the others do not
    for driver in DRIVERS:
        with session(driver, cluster["observers"][1], PASSWORD) as conn:
            assert ask(conn, "ALTER SYSTEM END ROLLING UPGRADE").code is None, driver
    wait_for(lambda: (values(cluster, "_upgrade_stage"), values(cluster, "min_observer_version"))
             == ({"POSTUPGRADE"}, {"4.2.1.1"}), 10, "POSTUPGRADE at the lowest version")
    assert upgrade_events(cluster)[-1] == ("END_ROLLING_UPGRADE", "cluster_version", "4.2.1.1",
                                           "ori_cluster_version", "4.2.1.1", "build_version")


@pytest.mark.parametrize("cluster", [("4.2.1.3", nets.SIM_ROLLING_END_WAITS)], indirect=True)
def test_from_4213_the_root_service_waits_for_its_own_version(cluster: dict) -> None:
    run_build(cluster, 2, "4.2.1.4")  # a newer server, the root service older: the lowest is its own version
    with session("mysql.connector", cluster["observers"][1], PASSWORD) as conn:
        assert ask(conn, "ALTER SYSTEM END ROLLING UPGRADE").code is None
    wait_for(lambda: values(cluster, "min_observer_version") == {"4.2.1.3"}, 10, "min_observer_version 4.2.1.3")

    run_build(cluster, 0, "4.2.1.4")  # now the root service is newer than one server: it waits, then times out
    for driver in DRIVERS:
        with session(driver, cluster["observers"][1], PASSWORD) as conn:
            refused = ask(conn, "ALTER SYSTEM END ROLLING UPGRADE")
        assert refused.code == OB_TIMEOUT and refused.message.startswith("Timeout"), (driver, refused)
    assert values(cluster, "min_observer_version") == {"4.2.1.3"}
    with session("pymysql", cluster["observers"][0], PASSWORD) as conn:
        logged = ask(conn, "select VALUE1, VALUE2 from DBA_OB_ROOTSERVICE_EVENT_HISTORY "
                           "where EVENT = 'admin_rolling_upgrade_cmd' order by TIMESTAMP").rows
    assert logged == (("0", "{stage:4}"), ("-4012", "{stage:4}"), ("-4012", "{stage:4}"))

    run_build(cluster, 1, "4.2.1.4")
    with session("pymysql", cluster["observers"][1], PASSWORD) as conn:
        assert ask(conn, "ALTER SYSTEM END ROLLING UPGRADE").code is None
    wait_for(lambda: values(cluster, "min_observer_version") == {"4.2.1.4"}, 10, "min_observer_version 4.2.1.4")
    assert [e[:5] for e in upgrade_events(cluster)] == [
        ("END_ROLLING_UPGRADE", "cluster_version", "4.2.1.3", "ori_cluster_version", "4.2.1.3"),
        ("END_ROLLING_UPGRADE", "cluster_version", "4.2.1.4", "ori_cluster_version", "4.2.1.3"),
    ]
