"""The upgrade task types, in DAG order, upgrading a simulated 3-zone cluster for real
(rolling, 4.2.1.0 -> 4.2.1.1), and recovering from an observer that does not come back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.upgrade.tasks.sim_upgrade import (
    SIM_TIMINGS,
    describe,
    install_environments,
    node_logs,
    open_engine,
    package_store,
    upgrade_context,
    upgrade_template,
    wait_finished,
)
from tests.helpers.sim import connect, query, run_cli, sim_cluster
from tests.helpers import nets

from pyobshell.engine import Node, Task, register_task_type
from pyobshell.upgrade.stages import StageKind, upgrade_stages
from pyobshell.wire.upgrade import UpgradeMode

pytestmark = pytest.mark.multiprocess

OLD_VERSION, OLD_RELEASE = "4.2.1.0", "100000012023101010.el7"
NEW_VERSION, NEW_RELEASE = "4.2.1.1", "101000062023110109.el7"
NEW_BUILD = f"{NEW_VERSION}_{NEW_RELEASE.split('.')[0]}"
PASSWORD = "Up'grade#1"
UPGRADE_NET, FAILURE_NET = nets.TASKS_UPGRADE, nets.TASKS_FAILURE
DAG_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def new_rpms(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("rpms")
    run_cli("sim", "package", "--version", NEW_VERSION, "--release", NEW_RELEASE, "--out", str(out))
    return sorted(out.glob("*.rpm"))


def values(cluster: dict, sql: str) -> list:
    with connect(cluster["observers"][-1], cluster["root_password"]) as conn:
        return [row[0] for row in query(conn, sql)]


def test_rolling_upgrade_of_a_3_zone_cluster(tmp_path: Path, new_rpms: list[Path]) -> None:
    with sim_cluster(tmp_path / "c", UPGRADE_NET, password=PASSWORD, version=OLD_VERSION,
                     release=OLD_RELEASE) as cluster:
        agents = install_environments(cluster, package_store(tmp_path / "packages.db", new_rpms), tmp_path / "agents")
        stages = upgrade_stages(1, UpgradeMode.ROLLING, agents.zones)
        template = upgrade_template(stages, NEW_VERSION, NEW_RELEASE)
        assert len(template.nodes) == 5 + (5 + 3 * 5) + 1

        async def run() -> object:
            async with open_engine(tmp_path / "tasks.db", agents.owner) as engine:
                created = engine.create_dag(template, upgrade_context(agents, NEW_VERSION, NEW_RELEASE))
                return await wait_finished(engine, created.id, DAG_TIMEOUT_S)

        dag = asyncio.run(run())
        assert dag.state == "SUCCEED", describe(dag)

        builds = values(cluster, "select BUILD_VERSION from oceanbase.DBA_OB_SERVERS")
        assert len(builds) == 3 and all(b.startswith(NEW_BUILD) for b in builds), builds
        assert set(values(cluster, "select distinct value from oceanbase.GV$OB_PARAMETERS "
                                   "where name = 'min_observer_version'")) == {NEW_VERSION}
        assert set(values(cluster, "select STATUS from oceanbase.DBA_OB_ZONES")) == {"ACTIVE"}
        for observer in cluster["observers"]:
            upgrade_dir = Path(observer["home"]) / "upgrade"
            assert upgrade_dir.is_dir() and list(upgrade_dir.iterdir()) == []  # task dir removed, dir kept

        assert node_logs(dag, "Stop zone1")[0] == "stopping zone1: ALTER SYSTEM STOP ZONE 'zone1'"
        assert any(line.startswith("zone1 INACTIVE after ") for line in node_logs(dag, "Stop zone1"))
        assert node_logs(dag, "Stop zone1")[-1].startswith("zone1 leads none of 5 log streams and holds no root service")
        reinstall = node_logs(dag, "Reinstall and restart observer")
        assert sum(" killed (" in line for line in reinstall) == 3
        assert sum(line.startswith("copied ") for line in reinstall) == 3
        assert "restored" in node_logs(dag, "Restore parameters")[-1]


class NeverServeFault(Task):
    """Test step: the observer about to be restarted will never serve (a sim fault)."""

    can_retry = True
    cluster_dir = Path()
    server = ""

    def execute(self) -> None:
        run_cli("sim", "fault", "--dir", str(self.cluster_dir), "--kind", "never_serve", "--server", self.server)
        self.log_info(f"fault never_serve set for {self.server}")


register_task_type(NeverServeFault)


def test_an_observer_that_never_serves_fails_the_reinstall_and_retry_recovers(tmp_path: Path,
                                                                          new_rpms: list[Path]) -> None:
    with sim_cluster(tmp_path / "c", FAILURE_NET, password=PASSWORD, version=OLD_VERSION,
                     release=OLD_RELEASE) as cluster:
        timings = SIM_TIMINGS.__class__(**{**SIM_TIMINGS.__dict__, "cluster_ready_wait_s": 3.0})
        agents = install_environments(cluster, package_store(tmp_path / "packages.db", new_rpms),
                                      tmp_path / "agents", timings)
        stages = upgrade_stages(1, UpgradeMode.ROLLING, agents.zones)
        # header, hop opening, and the first zone only: up to "Start zone1"
        last = next(i for i, s in enumerate(stages) if s.kind is StageKind.START_ZONE)
        reinstall = next(i for i, s in enumerate(stages) if s.kind is StageKind.REINSTALL_OBSERVER)
        zone1 = next(o for o in cluster["observers"] if o["zone"] == "zone1")
        NeverServeFault.cluster_dir, NeverServeFault.server = tmp_path / "c", f"{zone1['ip']}:{zone1['rpc_port']}"
        template = upgrade_template(stages[:last + 1], NEW_VERSION, NEW_RELEASE,
                                    extra={reinstall: Node(NeverServeFault(name="Inject never_serve"))})

        async def run() -> tuple[object, object]:
            async with open_engine(tmp_path / "tasks.db", agents.owner) as engine:
                created = engine.create_dag(template, upgrade_context(agents, NEW_VERSION, NEW_RELEASE))
                failed = await wait_finished(engine, created.id, DAG_TIMEOUT_S)
                assert failed.state == "FAILED", describe(failed)
                run_cli("sim", "fault", "--dir", str(tmp_path / "c"), "--kind", "never_serve", "--server",
                        NeverServeFault.server, "--clear")
                await asyncio.to_thread(engine.service.operate_dag, created.id, "retry")
                return failed, await wait_finished(engine, created.id, DAG_TIMEOUT_S)

        failed, retried = asyncio.run(run())
        failed_node = next(n for n in failed.nodes or [] if n.state == "FAILED")
        assert failed_node.name == "Reinstall and restart observer"
        last_line = failed_node.sub_tasks[0].task_logs[-1]
        assert last_line.startswith("ERROR: [OB.Observer.WaitAvailableTimeout]: wait all observer available timeout")
        assert f"not in service: {NeverServeFault.server} (" in last_line and "observer.log" in last_line

        assert retried.state == "SUCCEED", describe(retried)
        logs = node_logs(retried, "Reinstall and restart observer")
        assert any("already runs" in line and "not restarting it" in line for line in logs)
        assert sum(" killed (" in line for line in logs) == 1  # killed once, before the fault, never again
        with connect(zone1, PASSWORD) as conn:
            row = query(conn, "select BUILD_VERSION from oceanbase.DBA_OB_SERVERS where SVR_IP = %s", (zone1["ip"],))
        assert row[0][0].startswith(NEW_BUILD)
