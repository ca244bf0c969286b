"""The seed: POST /api/v1/ob/upgrade on a simulated 3-zone cluster with one agent per host,
packages uploaded through the client, the DAG followed until it succeeds, and a probe that
watched the cluster all along."""

from __future__ import annotations

import threading
from pathlib import Path

import pymysql
import pytest

from pyobshell.client import ObshellApiError, ObshellClient
from tests.helpers.sim import connect, query, run_cli, sim_cluster, wait_for
from tests.helpers import nets

pytestmark = pytest.mark.multiprocess

PASSWORD = "seed-Passw0rd"
NEW_VERSION, NEW_RELEASE = "4.2.1.1", "101000062023110109.el7"
SEED_KEYS = {"successful", "timestamp", "duration", "status", "traceId", "data"}


class ClusterProbe(threading.Thread):
    """Counts stopped zones and SQL failures while the upgrade runs."""

    def __init__(self, observers: list[dict]):
        super().__init__(daemon=True)
        self.observers = observers
        self.max_stopped = 0
        self.sql_failures: list[str] = []
        self.samples = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            answered = False
            for observer in self.observers:  # SQL answers as long as one observer does
                try:
                    with connect(observer, PASSWORD) as conn:
                        stopped = query(conn, "SELECT count(*) FROM DBA_OB_ZONES WHERE STATUS != 'ACTIVE'")[0][0]
                    self.max_stopped = max(self.max_stopped, stopped)
                    answered = True
                    break
                except pymysql.MySQLError as error:
                    last = str(error)
            self.samples += 1
            if not answered:
                self.sql_failures.append(last)


class CommandLineWatch(threading.Thread):
    """Reads every process's /proc/<pid>/cmdline while the upgrade runs: which upgrade scripts
    were seen running, and any command line that held the root password."""

    def __init__(self, secret: str):
        super().__init__(daemon=True)
        self.secret = secret.encode()
        self.scripts: set[str] = set()
        self.leaks: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.01):
            for entry in Path("/proc").iterdir():
                try:
                    argv = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
                except OSError:
                    continue
                self.scripts.update(word.decode().rsplit("/", 1)[1] for word in argv.split(b"\0")
                                    if word.endswith(b".py") and b"/etc/upgrade_" in word)
                if self.secret in argv:
                    self.leaks.append(argv.replace(b"\0", b" ").decode(errors="replace"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("seed")
    with sim_cluster(root / "c", net=nets.API_END_TO_END, zones=3, password=PASSWORD, agents=True) as document:
        run_cli("sim", "package", "--version", NEW_VERSION, "--release", NEW_RELEASE, "--out", str(root / "pkg"))
        document["packages"] = sorted((root / "pkg").glob("*.rpm"))
        yield document


def client_for(agent: dict) -> ObshellClient:
    return ObshellClient(f"{agent['ip']}:{agent['port']}", password=PASSWORD, timeout=60)


def test_upgrade_check_downloads_verifies_and_cleans_up(cluster: dict) -> None:
    api = client_for(cluster["agents"][0])
    for package in cluster["packages"]:
        api.upload_package(package)
    body = {"version": NEW_VERSION, "release": NEW_RELEASE, "mode": "ROLLING"}
    dag = api.request("POST", "/api/v1/ob/upgrade/check", body)
    assert dag["name"] == f"Upgrade check OB {NEW_VERSION}-{NEW_RELEASE}" and dag["max_stage"] == 6

    def finished() -> dict | None:
        current = api.request("GET", f"/api/v1/task/dag/{dag['id']}")
        return current if current["state"] in ("SUCCEED", "FAILED") else None

    final = wait_for(finished, 120, "the check DAG to finish")
    assert final["state"] == "SUCCEED", final
    unpack = next(node for node in final["nodes"] if node["name"] == "Unpack all required packages")
    assert {task["execute_agent"]["ip"] for task in unpack["sub_tasks"]} == {a["ip"] for a in cluster["agents"]}
    for observer in cluster["observers"]:  # the packages were unpacked under the default dir, then removed
        leftovers = list((Path(observer["home"]) / "upgrade").glob("rpm-*"))
        assert leftovers == []
    with connect(cluster["observers"][0], PASSWORD) as conn:  # nothing changed in the cluster
        assert {r[0].split("_")[0] for r in query(conn, "SELECT BUILD_VERSION FROM DBA_OB_SERVERS")} == {"4.2.1.0"}


def test_rolling_upgrade_through_the_api(cluster: dict) -> None:
    api = client_for(cluster["agents"][1])
    body = {"version": NEW_VERSION, "release": NEW_RELEASE, "mode": "rolling", "upgradeDir": ""}
    probe, watch = ClusterProbe(cluster["observers"]), CommandLineWatch(PASSWORD)
    probe.start()
    watch.start()
    try:
        raw = api.raw_request("POST", "/api/v1/ob/upgrade", body)
        envelope = raw.json()
        assert raw.status_code == 200, envelope
        assert set(envelope) == SEED_KEYS
        dag = envelope["data"]
        assert dag["name"] == f"OB rolling upgrade {NEW_VERSION}-{NEW_RELEASE}"
        assert (dag["stage"], dag["max_stage"], dag["state"], dag["operator"]) == (1, 26, "READY", "RUN")
        assert dag["id"] == f"1{dag['dag_id']}"

        def finished() -> dict | None:
            current = api.request("GET", f"/api/v1/task/dag/{dag['id']}", query={"show_details": "false"})
            return current if current["state"] in ("SUCCEED", "FAILED") else None

        final = wait_for(finished, 240, "the upgrade DAG to finish")
        assert final["state"] == "SUCCEED", api.request("GET", f"/api/v1/task/dag/{dag['id']}")
    finally:
        probe.done.set()
        watch.done.set()
        probe.join(10)
        watch.join(10)
    # the upgrade scripts ran, and no process on this host ever had the password in its arguments
    assert watch.scripts & {"upgrade_checker.py", "upgrade_pre.py", "upgrade_health_checker.py", "upgrade_post.py"}
    assert watch.leaks == []
    with connect(cluster["observers"][0], PASSWORD) as conn:
        builds = {row[0].split("_")[0] for row in query(conn, "SELECT BUILD_VERSION FROM DBA_OB_SERVERS")}
        assert builds == {NEW_VERSION}
        assert query(conn, "SELECT DISTINCT VALUE FROM GV$OB_PARAMETERS WHERE NAME = 'min_observer_version'") == [
            (NEW_VERSION,)]
    assert probe.samples > 10 and probe.max_stopped <= 1 and not probe.sql_failures


def test_a_second_upgrade_is_refused_while_nothing_needs_it(cluster: dict) -> None:
    """After the upgrade the cluster runs the target: asking again is a 400 naming both builds."""
    api = client_for(cluster["agents"][0])
    with pytest.raises(ObshellApiError) as error:
        api.request("POST", "/api/v1/ob/upgrade", {"version": NEW_VERSION, "release": NEW_RELEASE, "mode": "ROLLING"})
    assert error.value.status == 400


@pytest.mark.parametrize("body, field", [
    ({"release": NEW_RELEASE, "mode": "ROLLING"}, "version"),
    ({"version": NEW_VERSION, "release": "nodots", "mode": "ROLLING"}, "release"),
    ({"version": NEW_VERSION, "release": NEW_RELEASE, "mode": "SIDEWAYS"}, "mode"),
    ({"version": NEW_VERSION, "release": NEW_RELEASE, "mode": "ROLLING", "upgradeDir": "relative/dir"}, "upgradeDir"),
    ({"version": NEW_VERSION, "release": NEW_RELEASE, "mode": "ROLLING", "upgradeDir": "/tmp/../etc"}, "upgradeDir"),
])
def test_bad_bodies_are_400(cluster: dict, body: dict, field: str) -> None:
    api = client_for(cluster["agents"][2])
    with pytest.raises(ObshellApiError) as error:
        api.request("POST", "/api/v1/ob/upgrade", body)
    assert error.value.status == 400 and field in error.value.message, error.value.message
