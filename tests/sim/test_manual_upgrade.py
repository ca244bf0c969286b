"""A complete rolling upgrade 4.2.1.0 -> 4.2.1.1 of a simulated cluster, by hand.

No agent: only SQL as root@sys, observer processes, the package files and the upgrade
scripts shipped in the new package, run with their real flags. This is the procedure
OceanBase documents for a manual upgrade, and the reference the agent's DAG must match.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import psutil
import pymysql
import pytest
import rpmfile
from tests.helpers import nets

pytestmark = pytest.mark.multiprocess

UPGRADE_NET = nets.MANUAL_UPGRADE
FAILURES_NET = nets.MANUAL_FAILURES
OLD_VERSION, OLD_RELEASE = "4.2.1.0", "100000012023101010.el7"
NEW_VERSION, NEW_RELEASE = "4.2.1.1", "101000062023110109.el7"
ROOT_PASSWORD = "Up-grade#1"
OB_HOME_IN_RPM = "./home/admin/oceanbase/"
PYOBSHELL = Path(sys.executable).with_name("pyobshell")
WAIT_S = 120
SCRIPT_TIMEOUT_S = 120

T = TypeVar("T")


@dataclass(frozen=True)
class Observer:
    zone: str
    ip: str
    sql_port: int
    home: Path
    rpc_port: int


@dataclass
class Cluster:
    directory: Path
    observers: list[Observer]
    started: list[subprocess.Popen]

    @property
    def zones(self) -> list[str]:
        return sorted({o.zone for o in self.observers})

    def outside(self, zone: str) -> Observer:
        return next(o for o in self.observers if o.zone != zone)


def pyobshell(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(PYOBSHELL), *args], capture_output=True, text=True, timeout=300)


@contextmanager
def simulated_cluster(directory: Path, net: int) -> Iterator[Cluster]:
    """`sim up` a 3-zone cluster on the old version; `sim down` whatever happens."""
    started: list[subprocess.Popen] = []
    try:
        up = pyobshell("sim", "up", "--dir", str(directory), "--zones", "3", "--servers-per-zone", "1",
                       "--version", OLD_VERSION, "--release", OLD_RELEASE, "--net", str(net),
                       "--root-password", ROOT_PASSWORD, "--profile", "fast", "--no-agents")
        assert up.returncode == 0, f"sim up failed:\n{up.stdout}\n{up.stderr}"
        described = json.loads((directory / "cluster.json").read_text())
        observers = [Observer(o["zone"], o["ip"], int(o["sql_port"]), Path(o["home"]), int(o["rpc_port"]))
                     for o in described["observers"]]
        yield Cluster(directory, observers, started)
    finally:
        down = pyobshell("sim", "down", "--dir", str(directory))
        for process in started:  # observers this test started itself
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)
        assert down.returncode == 0, f"sim down failed:\n{down.stdout}\n{down.stderr}"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with simulated_cluster(tmp_path / "cluster", UPGRADE_NET) as running:
        yield running


@pytest.fixture
def failing_cluster(tmp_path: Path) -> Iterator[Cluster]:
    with simulated_cluster(tmp_path / "cluster", FAILURES_NET) as running:
        yield running


@pytest.fixture
def new_package(tmp_path: Path) -> tuple[list[Path], Path]:
    """The new version's RPMs, and their contents unpacked where the scripts run from."""
    out = tmp_path / "packages"
    built = pyobshell("sim", "package", "--version", NEW_VERSION, "--release", NEW_RELEASE, "--out", str(out))
    assert built.returncode == 0, built.stderr
    rpms = sorted(out.glob("*.rpm"))
    assert [p.name for p in rpms] == [f"oceanbase-ce-{NEW_VERSION}-{NEW_RELEASE}.x86_64.rpm",
                                      f"oceanbase-ce-libs-{NEW_VERSION}-{NEW_RELEASE}.x86_64.rpm"]
    staging = tmp_path / "staging"
    for rpm in rpms:
        unpack_ob_home(rpm, staging)
    return rpms, staging


def unpack_ob_home(rpm_path: Path, home: Path) -> None:
    """Copy the package's home/admin/oceanbase tree over `home`, keeping modes and links."""
    with rpmfile.open(rpm_path) as rpm:
        for member in rpm.getmembers():
            if not member.name.startswith(OB_HOME_IN_RPM):
                continue
            target = home / member.name[len(OB_HOME_IN_RPM):]
            if member.isdir:
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            data = rpm.extractfile(member).read()
            if target.is_symlink() or target.exists():
                target.unlink()
            if member.issymlink:
                target.symlink_to(data.decode())
            else:
                target.write_bytes(data)
                target.chmod(member.mode & 0o7777)


# ------------------------------------------------------------------------ helpers

def connect(observer: Observer) -> pymysql.Connection:
    return pymysql.connect(host=observer.ip, port=observer.sql_port, user="root", password=ROOT_PASSWORD,
                           database="oceanbase", autocommit=True, connect_timeout=10)


def query(observer: Observer, sql: str, *args: object) -> list[tuple]:
    with connect(observer) as conn, conn.cursor() as cursor:
        cursor.execute(sql, args or None)
        return list(cursor.fetchall())


def wait_until(what: str, probe: Callable[[], T], done: Callable[[T], bool], timeout: float = WAIT_S) -> T:
    """Poll `probe` until `done`; fail with the last value seen. Errors count as not yet."""
    deadline = time.monotonic() + timeout
    delay, last = 0.1, None
    while True:
        try:
            last = probe()
            if done(last):
                return last
        except pymysql.MySQLError as exc:
            last = exc
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out waiting for {what}; last seen: {last!r}")
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def script_process(staging: Path, script: str, observer: Observer, *extra: str,
                   timeout_s: int = SCRIPT_TIMEOUT_S) -> subprocess.CompletedProcess:
    """Run one upgrade script the way obshell does: from the unpacked package, flags glued."""
    command = [sys.executable, str(staging / "etc" / script), f"-h{observer.ip}", f"-P{observer.sql_port}",
               "-uroot", f"-p{ROOT_PASSWORD}", "-t", str(timeout_s), *extra]
    return subprocess.run(command, cwd=staging, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))


def run_script(staging: Path, script: str, observer: Observer, *extra: str) -> str:
    result = script_process(staging, script, observer, *extra)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout[-4000:]}\n{result.stderr}"
    return result.stdout


def failure_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stdout[-4000:] + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result.stderr.strip().splitlines()[-1]


def set_fault(cluster: Cluster, kind: str, observer: Observer | None = None, clear: bool = False) -> None:
    args = ["sim", "fault", "--dir", str(cluster.directory), "--kind", kind]
    if observer is not None:
        args += ["--server", f"{observer.ip}:{observer.rpc_port}"]
    result = pyobshell(*args, *(["--clear"] if clear else []))
    assert result.returncode == 0, result.stderr


def process_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def kill_observer(observer: Observer) -> None:
    pid = int((observer.home / "run" / "observer.pid").read_text().strip())
    os.kill(pid, signal.SIGKILL)
    wait_until(f"observer {observer.ip} (pid {pid}) to exit", lambda: process_gone(pid), bool, 30)


def start_observer(cluster: Cluster, observer: Observer) -> None:
    env = dict(os.environ, LD_LIBRARY_PATH=str(observer.home / "lib"))
    cluster.started.append(subprocess.Popen(
        [str(observer.home / "bin" / "observer")], cwd=observer.home, env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True))


def server_row(via: Observer, target: Observer) -> tuple | None:
    rows = query(via, "select STATUS, START_SERVICE_TIME, STOP_TIME, BUILD_VERSION from oceanbase.DBA_OB_SERVERS "
                      "where SVR_IP = %s and SQL_PORT = %s", target.ip, target.sql_port)
    return rows[0] if rows else None


def serving_new_build(row: tuple | None) -> bool:
    return (row is not None and row[0] == "ACTIVE" and row[1] is not None and row[2] is None
            and str(row[3]).startswith(f"{NEW_VERSION}_{NEW_RELEASE.split('.')[0]}"))


def unsynced_replicas(via: Observer) -> int:
    return query(via, "select count(*) from oceanbase.GV$OB_LOG_STAT where in_sync = 'NO'")[0][0]


def zone_status(via: Observer, zone: str) -> str:
    return query(via, "select STATUS from oceanbase.DBA_OB_ZONES where ZONE = %s", zone)[0][0]


def parameter_values(via: Observer, name: str) -> set[str]:
    return {r[0] for r in query(via, "select distinct value from oceanbase.GV$OB_PARAMETERS where name = %s", name)}


# --------------------------------------------------------------------------- test

def upgrade_zone(cluster: Cluster, zone: str, rpms: list[Path], staging: Path) -> None:
    via = cluster.outside(zone)
    query(via, f"ALTER SYSTEM STOP ZONE '{zone}'")
    wait_until(f"{zone} INACTIVE", lambda: zone_status(via, zone), lambda s: s == "INACTIVE")
    for observer in (o for o in cluster.observers if o.zone == zone):
        kill_observer(observer)
        for rpm in rpms:
            unpack_ob_home(rpm, observer.home)
        start_observer(cluster, observer)
        wait_until(f"{observer.ip} back in service on the new build",
                   lambda: server_row(via, observer), serving_new_build)
    wait_until("every log stream in sync", lambda: unsynced_replicas(via), lambda n: n == 0)
    run_script(staging, "upgrade_health_checker.py", via, f"-z{zone}")
    query(via, f"ALTER SYSTEM START ZONE '{zone}'")
    wait_until(f"{zone} ACTIVE", lambda: zone_status(via, zone), lambda s: s == "ACTIVE")


def test_rolling_upgrade_by_hand(cluster: Cluster, new_package: tuple[list[Path], Path]) -> None:
    rpms, staging = new_package
    first = cluster.observers[0]
    assert [r[0] for r in query(first, "select ob_version()")] == [OLD_VERSION]

    checker_log = run_script(staging, "upgrade_checker.py", first)
    assert "alter system set server_permanent_offline_time = '72h'" in checker_log
    pre_log = run_script(staging, "upgrade_pre.py", first)
    assert f"set @@session.ob_query_timeout = {SCRIPT_TIMEOUT_S * 1000000}" in pre_log
    rerun = run_script(staging, "upgrade_pre.py", first)  # idempotent: nothing left to begin
    assert "alter system begin" not in rerun and "alter system set" not in rerun
    assert parameter_values(first, "enable_upgrade_mode") == {"True"}
    assert parameter_values(first, "_upgrade_stage") == {"DBUPGRADE"}
    assert parameter_values(first, "enable_ddl") == {"False"}

    *early_zones, last_zone = cluster.zones
    for zone in early_zones:
        upgrade_zone(cluster, zone, rpms, staging)

    # One zone still runs the old build. The root service (zone1, already on 4.2.1.1) does not
    # wait for it, as 4.2.1 builds before 4.2.1.3 do not: it leaves the rolling phase with
    # min_observer_version at the lowest server version; upgrade_post.py ends it again later.
    query(cluster.outside(last_zone), "ALTER SYSTEM END ROLLING UPGRADE")
    wait_until("the rolling phase over, at the lowest version", lambda: (
        parameter_values(first, "_upgrade_stage"), parameter_values(first, "min_observer_version")),
        lambda values: values == ({"POSTUPGRADE"}, {OLD_VERSION}))

    upgrade_zone(cluster, last_zone, rpms, staging)
    run_script(staging, "upgrade_post.py", cluster.outside(last_zone))
    rerun = run_script(staging, "upgrade_post.py", cluster.observers[0])
    assert "alter system end" not in rerun
    assert "alter system run upgrade job 'UPGRADE_VIRTUAL_SCHEMA'" in rerun  # data versions already moved

    via = cluster.observers[-1]
    builds = [r[0] for r in query(via, "select BUILD_VERSION from oceanbase.DBA_OB_SERVERS")]
    assert len(builds) == len(cluster.observers)
    assert all(b.startswith(f"{NEW_VERSION}_{NEW_RELEASE.split('.')[0]}") for b in builds), builds
    assert parameter_values(via, "min_observer_version") == {NEW_VERSION}
    assert parameter_values(via, "enable_upgrade_mode") == {"False"}
    assert parameter_values(via, "enable_ddl") == {"True"}
    compatible = {r[0] for r in query(via, "select distinct value from oceanbase.__all_virtual_tenant_parameter_info "
                                           "where name = 'compatible'")}
    assert compatible == {NEW_VERSION}
    assert {r[0] for r in query(via, "select STATUS from oceanbase.DBA_OB_ZONES")} == {"ACTIVE"}


def test_scripts_report_cluster_failures_in_one_line(failing_cluster: Cluster,
                                                    new_package: tuple[list[Path], Path]) -> None:
    _, staging = new_package
    cluster = failing_cluster
    first, lagging = cluster.observers[0], cluster.observers[1]

    unknown_zone = script_process(staging, "upgrade_health_checker.py", first, "-zzone9")
    assert failure_line(unknown_zone) == "upgrade_health_checker failed: zone:zone9 doesn't exist"

    set_fault(cluster, "log_never_sync", lagging)
    wait_until("a replica out of sync", lambda: unsynced_replicas(first), lambda n: n > 0)
    stuck = script_process(staging, "upgrade_health_checker.py", first, f"-z{lagging.zone}", timeout_s=2)
    assert failure_line(stuck).startswith(
        "upgrade_health_checker failed: result not expected, sql: "
        "select count(*) from oceanbase.GV$OB_LOG_STAT where in_sync = 'NO', expected: 0")
    set_fault(cluster, "log_never_sync", lagging, clear=True)

    run_script(staging, "upgrade_pre.py", first)
    set_fault(cluster, "upgrade_job_fails")
    failed_job = script_process(staging, "upgrade_post.py", first, "-mtenant_upgrade")
    assert failure_line(failed_job) == ("upgrade_post failed: upgrade job UPGRADE_ALL failed, "
                                        "see __all_rootservice_job")
    # The intended recovery: fix the cause, run the same module again.
    set_fault(cluster, "upgrade_job_fails", clear=True)
    retried = run_script(staging, "upgrade_post.py", first, "-mtenant_upgrade")
    assert "alter system run upgrade job 'UPGRADE_ALL'" in retried
    assert "alter system run job 'root_inspection'" in retried
