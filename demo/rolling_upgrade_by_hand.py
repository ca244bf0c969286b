"""`make demo`: a simulated 3-zone cluster at 4.2.1.0 is upgraded to 4.2.1.1, zone by zone.

Until the agent's upgrade API lands, the demo walks the procedure the agent automates, the way
an operator would by hand: the new packages' checker and pre scripts, then per zone STOP ZONE,
kill the observer, unpack the new RPMs over its home, start it, wait until it is in service and
in sync, START ZONE; then the post script. It prints every server's version before and after
and always stops the cluster, also when interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pymysql
from rich.console import Console
from rich.table import Table

from pyobshell.sim.installer import install_rpm

OLD = ("4.2.1.0", "100000012023101010.el7")
NEW = ("4.2.1.1", "101000062023110109.el7")
PASSWORD = "demo-Passw0rd"
NET = 100
console = Console()


def pyobshell(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pyobshell.cli.main", *args], check=True, timeout=600)


def connect(observer: dict) -> pymysql.Connection:
    return pymysql.connect(host=observer["ip"], port=observer["sql_port"], user="root@sys", password=PASSWORD,
                           database="oceanbase", autocommit=True, connect_timeout=5)


def query(observer: dict, sql: str, *args: object) -> list[tuple]:
    with connect(observer) as conn, conn.cursor() as cursor:
        cursor.execute(sql, args or None)
        return list(cursor.fetchall())


def wait(what: str, probe, timeout: float = 120.0) -> None:
    deadline, delay = time.monotonic() + timeout, 0.1
    with console.status(what):
        while not _safe(probe):
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out: {what}")
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)


def _safe(probe) -> bool:
    try:
        return bool(probe())
    except pymysql.MySQLError:
        return False


def show_servers(observer: dict, title: str) -> None:
    table = Table(title=title)
    for column in ("zone", "server", "status", "build version"):
        table.add_column(column)
    for zone, ip, status, build in query(observer, "SELECT ZONE, SVR_IP, STATUS, BUILD_VERSION FROM DBA_OB_SERVERS ORDER BY ZONE"):
        table.add_row(zone, ip, status, build.split("-")[0])
    console.print(table)


def run_script(staging: Path, script: str, observer: dict, *extra: str) -> None:
    console.print(f"[bold]run[/] etc/{script} {' '.join(extra)}")
    result = subprocess.run([sys.executable, str(staging / "etc" / script), f"-h{observer['ip']}",
                             f"-P{observer['sql_port']}", "-uroot", f"-p{PASSWORD}", "-t", "120", *extra],
                            cwd=staging, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"{script} failed: {result.stderr.strip().splitlines()[-1:]}")


def upgrade_zone(cluster: dict, zone: str, rpms: list[Path], staging: Path) -> None:
    others = [o for o in cluster["observers"] if o["zone"] != zone]
    mine = [o for o in cluster["observers"] if o["zone"] == zone]
    run_script(staging, "upgrade_health_checker.py", others[0])
    console.print(f"[bold]ALTER SYSTEM STOP ZONE '{zone}'[/]")
    query(others[0], f"ALTER SYSTEM STOP ZONE '{zone}'")
    for observer in mine:
        home = Path(observer["home"])
        pid = int((home / "run" / "observer.pid").read_text())
        console.print(f"kill -9 {pid} ({observer['ip']}), install {', '.join(p.name for p in rpms)}, start bin/observer")
        os.kill(pid, signal.SIGKILL)
        wait(f"observer {observer['ip']} stopped", lambda: not Path(f"/proc/{pid}").exists())
        for rpm in rpms:
            install_rpm(rpm, home)
        subprocess.run([str(home / "bin" / "observer")], cwd=home, check=True, timeout=60)
    wait(f"{zone} in service and in sync", lambda: query(
        others[0], "SELECT count(*) FROM DBA_OB_SERVERS WHERE ZONE = %s AND STATUS = 'ACTIVE' AND "
                   "START_SERVICE_TIME IS NOT NULL", zone)[0][0] == len(mine)
        and query(others[0], "SELECT count(*) FROM GV$OB_LOG_STAT WHERE IN_SYNC = 'NO'")[0][0] == 0)
    run_script(staging, "upgrade_health_checker.py", others[0], f"-z{zone}")
    console.print(f"[bold]ALTER SYSTEM START ZONE '{zone}'[/]")
    query(others[0], f"ALTER SYSTEM START ZONE '{zone}'")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pyobshell-demo-") as tmp:
        root = Path(tmp)
        console.rule("simulated cluster: 3 zones at 4.2.1.0, one pyobshell agent per host")
        try:
            pyobshell("sim", "up", "--dir", str(root / "cluster"), "--zones", "3", "--version", OLD[0], "--release",
                      OLD[1], "--root-password", PASSWORD, "--net", str(NET))
            cluster = json.loads((root / "cluster" / "cluster.json").read_text())
            first = cluster["observers"][0]
            show_servers(first, "before")
            console.rule("packages 4.2.1.1")
            pyobshell("sim", "package", "--version", NEW[0], "--release", NEW[1], "--out", str(root / "packages"))
            rpms = sorted((root / "packages").glob("*.rpm"))
            staging = root / "staging"
            for rpm in rpms:
                install_rpm(rpm, staging)
            console.rule("rolling upgrade, zone by zone")
            run_script(staging, "upgrade_checker.py", first)
            run_script(staging, "upgrade_pre.py", first)
            for zone in sorted({o["zone"] for o in cluster["observers"]}):
                upgrade_zone(cluster, zone, rpms, staging)
            run_script(staging, "upgrade_post.py", first)
            show_servers(first, "after")
            version = query(first, "SELECT DISTINCT VALUE FROM GV$OB_PARAMETERS WHERE NAME = 'min_observer_version'")
            console.print(f"min_observer_version: [bold green]{version[0][0]}[/]")
        finally:
            console.rule("sim down")
            pyobshell("sim", "down", "--dir", str(root / "cluster"))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        console.print("interrupted; the cluster was stopped")
        sys.exit(130)
    except (RuntimeError, subprocess.CalledProcessError) as error:
        console.print(f"[bold red]demo failed:[/] {error}")
        sys.exit(1)
