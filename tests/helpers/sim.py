"""Shared test helpers: polling with a deadline, and simulated clusters that always come down.

Imported by tests as ``tests.helpers.sim`` (every test module is imported as part of the
``tests`` package, from the repository root)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pymysql

T = TypeVar("T")
REPO_ROOT = Path(__file__).resolve().parent.parent
PYOBSHELL = [sys.executable, "-m", "pyobshell.cli.main"]


def wait_for(condition: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    """Poll ``condition`` (fast, then backing off) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    delay, last = 0.02, None
    while True:
        try:
            last = condition()
        except Exception as error:  # noqa: BLE001 - keep polling, report the last failure
            last = error
        if last and not isinstance(last, Exception):
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last seen: {last!r}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def run_cli(*args: str, check: bool = True, timeout: float = 180, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([*PYOBSHELL, *args], capture_output=True, text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"pyobshell {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@contextlib.contextmanager
def sim_cluster(directory: Path, net: int, zones: int = 3, servers_per_zone: int = 1, version: str = "4.2.1.0",
                release: str = "100000012023101010.el7", password: str = "rootpw", agents: bool = False,
                extra: tuple[str, ...] = (), env: dict[str, str] | None = None) -> Iterator[dict]:
    """`pyobshell sim up` with fast delays; `sim down` afterwards, whatever happens.

    ``env`` is added to this process's environment for `sim up`, which passes it on to the agents."""
    import os
    import json

    args = ["sim", "up", "--dir", str(directory), "--zones", str(zones), "--servers-per-zone", str(servers_per_zone),
            "--version", version, "--release", release, "--root-password", password, "--net", str(net),
            "--profile", "fast", *extra]
    if not agents:
        args.append("--no-agents")
    try:
        run_cli(*args, env={**os.environ, **env} if env else None)
        yield json.loads((directory / "cluster.json").read_text())
    finally:
        run_cli("sim", "down", "--dir", str(directory), check=False)


def connect(observer: dict, password: str, database: str | None = "oceanbase", autocommit: bool = True,
            **kwargs) -> pymysql.Connection:
    return pymysql.connect(host=observer["ip"], port=observer["sql_port"], user="root@sys", password=password,
                           database=database, connect_timeout=5, read_timeout=30, autocommit=autocommit, **kwargs)


def query(conn: pymysql.Connection, sql: str, args: tuple | None = None) -> list[tuple]:
    with conn.cursor() as cursor:
        cursor.execute(sql, args)
        return list(cursor.fetchall())


def observer_pid(observer: dict) -> int:
    return int((Path(observer["home"]) / "run" / "observer.pid").read_text().strip())


def kill_observer(observer: dict) -> int:
    """kill -9 a simulated observer and wait until it is gone; its pid."""
    import psutil
    import signal

    pid = observer_pid(observer)
    os.kill(pid, signal.SIGKILL)

    def gone() -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_for(gone, timeout=30, what=f"observer {observer['ip']} (pid {pid}) to exit")
    return pid


def start_observer(observer: dict) -> None:
    """Start a simulated observer as an operator would: ``cd HOME; bin/observer`` (it daemonizes)."""
    home = Path(observer["home"])
    subprocess.run([str(home / "bin" / "observer")], cwd=home, env={**os.environ, "LD_LIBRARY_PATH": str(home / "lib")},
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
                   check=True)
