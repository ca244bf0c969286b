"""The simulated observer process, started like the real one: ``cd HOME; bin/observer``.

It reads ``etc/observer.config.bin``, daemonizes (``-N`` keeps it in the foreground), writes
``run/observer.pid``, serves the MySQL protocol on its SQL port and listens on its RPC port,
touches its heartbeat so the cluster sees it alive, and records in the shared state that it
started with this binary's version. ``kill -9`` really stops it.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyobshell.observer_config import PID_RELATIVE_PATH, ObserverConfigError, read_config, read_int, read_pid
from pyobshell.sim import cluster_state, log_streams
from pyobshell.sim.cluster_state import build_version_string
from pyobshell.sim.exit_watch import PeerExitWatch
from pyobshell.sim.server_health import derive_server, heartbeat_path, load_faults, touch_heartbeat
from pyobshell.sim.settings import SimSettings
from pyobshell.sim.sql_functions import now_us
from pyobshell.sim.observer_info import ObserverInfo

log = logging.getLogger("pyobshell.sim.observer")
READY_TIMEOUT = 20.0


class StartError(Exception):
    """The observer cannot start; the message says why."""


@dataclass(frozen=True)
class ObserverPlan:
    home: Path
    info: ObserverInfo
    zone: str


def load_plan(home: Path, version: str, release: str) -> ObserverPlan:
    try:
        config = read_config(home)
        info = ObserverInfo(
            ip=config.get("local_ip", "127.0.0.1"),
            rpc_port=read_int(config, "rpc_port"),
            sql_port=read_int(config, "mysql_port"),
            version=version,
            release=release,
            state_dir=Path(config["sim_state_dir"]) if "sim_state_dir" in config else Path(),
        )
    except ObserverConfigError as error:
        raise StartError(str(error)) from None
    if "sim_state_dir" not in config or not cluster_state.state_path(info.state_dir).exists():
        raise StartError(f"observer config in {home} names no cluster state (sim_state_dir)")
    return ObserverPlan(home, info, config.get("zone", ""))


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def check_not_running(home: Path) -> None:
    pid = read_pid(home)
    if pid and pid != os.getpid() and process_alive(pid):
        raise StartError(f"observer already running in {home} (pid {pid})")


def register_start(plan: ObserverPlan, settings: SimSettings) -> int:
    """Record in the shared state that this server now runs this binary; its server id."""
    info = plan.info
    hb = heartbeat_path(info.state_dir, info.ip, info.rpc_port)
    conn = cluster_state.connect(cluster_state.state_path(info.state_dir))
    try:
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute(
            "SELECT id, svr_ip, svr_port, start_us, last_offline_us FROM __sim_server WHERE svr_ip = ? AND svr_port = ?",
            (info.ip, info.rpc_port),
        ).fetchone()
        if row is None:
            conn.execute("ROLLBACK")
            raise StartError(f"server {info.ip}:{info.rpc_port} is not a member of the cluster")
        try:
            previous_hb = os.stat(hb).st_mtime_ns // 1000
        except OSError:
            previous_hb = None
        previous = derive_server(row, settings, load_faults(conn), previous_hb, now_us())
        log_streams.record_restart(conn, row["id"], row["start_us"], previous_hb)
        touch_heartbeat(hb)
        conn.execute(
            "UPDATE __sim_server SET start_us = ?, version = ?, release = ?, build_version = ?, pid = ?,"
            " last_offline_us = ?, modify_us = ? WHERE id = ?",
            (now_us(), info.version, info.release, build_version_string(info.version, info.release), os.getpid(),
             previous.last_offline_us, now_us(), row["id"]),
        )
        conn.execute("COMMIT")
        return int(row["id"])
    except sqlite3.Error as error:
        raise StartError(f"cannot reach the cluster state: {error}") from None
    finally:
        conn.close()


def _heartbeat_loop(path: Path, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        try:
            touch_heartbeat(path)
        except OSError as error:  # the state dir went away: the cluster is gone
            log.warning("heartbeat failed: %s", error)


async def _reject_rpc(_reader: Any, writer: Any) -> None:  # asyncio stream pair
    writer.close()


async def serve(plan: ObserverPlan, settings: SimSettings, ready: "callable[[str], None]") -> None:
    import asyncio  # noqa: PLC0415 - the SQL stack loads after the fork (see run_foreground)

    from pyobshell.sim.sql_server import make_server

    info = plan.info
    server = make_server(info, settings)
    try:
        await server.start_server(host=info.ip, port=info.sql_port)
        rpc = await asyncio.start_server(_reject_rpc, host=info.ip, port=info.rpc_port)
    except OSError as error:
        raise StartError(f"cannot listen on {info.ip}:{info.sql_port}/{info.rpc_port}: {error.strerror}") from None
    peers = PeerExitWatch(info.state_dir, register_start(plan, settings))
    peers.start()
    stop_heartbeat = threading.Event()
    hb = heartbeat_path(info.state_dir, info.ip, info.rpc_port)
    threading.Thread(target=_heartbeat_loop, args=(hb, settings.heartbeat_interval, stop_heartbeat), daemon=True).start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    log.info("observer %s:%s started, version %s-%s, zone %s", info.ip, info.sql_port, info.version, info.release, plan.zone)
    ready("ok")
    await stopping.wait()
    log.info("observer stopping on signal")
    stop_heartbeat.set()
    peers.stop()
    rpc.close()
    await server.close()


def _write_pid(home: Path) -> None:
    path = home / PID_RELATIVE_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{os.getpid()}\n")


def _setup_logging(home: Path) -> None:
    (home / "log").mkdir(exist_ok=True)
    logging.basicConfig(
        filename=home / "log" / "observer.log",
        level=logging.INFO,
        format="[%(asctime)s] %(levelname)s [%(name)s] %(message)s",
    )


def run_foreground(plan: ObserverPlan, ready: "callable[[str], None]") -> int:
    # asyncio and the SQL stack are imported only here, after daemonize() forked: the launcher
    # returns control (and the process exists) at once, as the real binary's does.
    import asyncio  # noqa: PLC0415

    _write_pid(plan.home)
    _setup_logging(plan.home)
    conn = cluster_state.connect(cluster_state.state_path(plan.info.state_dir))
    try:
        settings = SimSettings.load(conn)
    finally:
        conn.close()
    try:
        asyncio.run(serve(plan, settings, ready))
    except StartError as error:
        log.error("%s", error)
        ready(f"error: {error}")
        return 1
    finally:
        pid_file = plan.home / PID_RELATIVE_PATH
        if read_pid(plan.home) == os.getpid():
            pid_file.unlink(missing_ok=True)
    return 0


def daemonize(plan: ObserverPlan) -> int:
    """Fork a detached observer; return once it serves (0) or failed to start (1)."""
    read_fd, write_fd = os.pipe()
    if os.fork() > 0:
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            message = pipe.readline().strip()
        if message == "ok":
            return 0
        print(message.removeprefix("error: ") or "observer exited before it was ready", file=sys.stderr)
        return 1
    os.close(read_fd)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    reporter = os.fdopen(write_fd, "w")

    def ready(message: str) -> None:
        if not reporter.closed:
            reporter.write(message + "\n")
            reporter.close()

    code = run_foreground(plan, ready)
    ready("error: observer exited before it was ready")
    os._exit(code)


def main(version: str, release: str, argv: list[str]) -> int:
    foreground = "-N" in argv or "--nodaemon" in argv
    home = Path.cwd()
    try:
        plan = load_plan(home, version, release)
        check_not_running(home)
    except StartError as error:
        print(f"observer: {error}", file=sys.stderr)
        return 1
    if foreground:
        return run_foreground(plan, lambda message: None)
    return daemonize(plan)
