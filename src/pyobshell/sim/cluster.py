"""``sim up`` and ``sim down``: a whole simulated cluster on this machine.

Every host gets its own loopback address ``127.<net>.<zone>.<server>`` with the standard
ports, an observer home installed from simulated RPMs, and (unless ``--no-agents``) a
pyobshell agent. ``DIR/cluster.json`` describes the result for clients and tests.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pymysql

from pyobshell.observer_config import read_pid, write_config
from pyobshell.sim import cluster_state
from pyobshell.sim.agents import agents_available, start_agents
from pyobshell.sim.cluster_state import ClusterSpec, ServerSpec
from pyobshell.sim.installer import InstallError, install_packages
from pyobshell.sim.observer import process_alive
from pyobshell.sim.package_builder import build_packages
from pyobshell.sim.topology import Host, SimError, UpRequest, plan_hosts

CLUSTER_FILE = "cluster.json"


def port_free(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip, port))
        except OSError:
            return False
    return True


def check_directory_unused(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise SimError(f"{directory} exists and is not a directory")
    if directory.exists() and any(directory.iterdir()):
        raise SimError(f"{directory} is not empty: it may hold another simulated cluster; run "
                       f"'pyobshell sim down --dir {directory}' and remove it, or choose another --dir")


def check_ports(request: UpRequest, hosts: list[Host]) -> None:
    ports = [request.sql_port, request.rpc_port] + ([request.agent_port] if request.agents else [])
    busy = [f"{host.ip}:{port}" for host in hosts for port in ports if not port_free(host.ip, port)]
    if busy:
        raise SimError(f"port(s) already in use: {', '.join(busy[:5])}; stop what uses them or choose another --net")


def install_hosts(request: UpRequest, hosts: list[Host], packages: list[Path], state_dir: Path) -> None:
    for host in hosts:
        try:
            install_packages(packages, host.home)
        except InstallError as error:
            raise SimError(str(error)) from None
        write_config(host.home, {
            "local_ip": host.ip, "mysql_port": str(request.sql_port), "rpc_port": str(request.rpc_port),
            "zone": host.zone, "cluster": request.settings.cluster_name, "cluster_id": str(request.settings.cluster_id),
            "data_dir": str(host.home / "store"), "sim_state_dir": str(state_dir),
            "rootservice_list": ";".join(f"{h.ip}:{request.rpc_port}:{request.sql_port}" for h in hosts),
        })


def start_observer(home: Path) -> None:
    """Start one observer like an operator: ``cd HOME; bin/observer``."""
    result = subprocess.run([str(home / "bin" / "observer")], cwd=home, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise SimError(f"observer in {home} did not start: {result.stderr.strip() or result.stdout.strip()}")


def wait_cluster_ready(ip: str, port: int, password: str, servers: int, timeout: float) -> None:
    """Poll until every server is ACTIVE, in service and in sync (fails with what was seen last)."""
    deadline = time.monotonic() + timeout
    delay, last = 0.05, "no answer yet"
    while time.monotonic() < deadline:
        try:
            conn = pymysql.connect(host=ip, port=port, user="root@sys", password=password, database="oceanbase",
                                   connect_timeout=2, read_timeout=5, autocommit=True)
            with conn, conn.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM DBA_OB_SERVERS WHERE STATUS = 'ACTIVE' AND START_SERVICE_TIME IS NOT NULL")
                serving = cursor.fetchone()[0]
                cursor.execute("SELECT count(*) FROM GV$OB_LOG_STAT WHERE IN_SYNC = 'NO'")
                unsynced = cursor.fetchone()[0]
            if serving == servers and unsynced == 0:
                return
            last = f"{serving}/{servers} servers in service, {unsynced} log streams not in sync"
        except pymysql.MySQLError as error:
            last = str(error)
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
    raise SimError(f"cluster not ready after {timeout:.0f}s: {last}")


def cluster_document(request: UpRequest, hosts: list[Host], agents: list[dict]) -> dict:
    return {
        "root_password": request.root_password,
        "observers": [
            {"zone": h.zone, "ip": h.ip, "rpc_port": request.rpc_port, "sql_port": request.sql_port,
             "home": str(h.home), "version": request.version, "release": request.release}
            for h in hosts
        ],
        "agents": agents,
    }


def sim_up(request: UpRequest) -> dict:
    request.validate()
    check_directory_unused(request.directory)
    hosts = plan_hosts(request)
    check_ports(request, hosts)
    if request.agents:
        if not agents_available():
            raise SimError("agents are not available in this build yet; use --no-agents")
    root = request.directory.resolve()
    root.mkdir(parents=True, exist_ok=True)
    state_dir = root / "state"
    try:
        packages = build_packages(request.version, request.release, root / "packages")
        install_hosts(request, hosts, packages, state_dir)
        request.settings.root_password = request.root_password
        servers = [ServerSpec(h.ip, request.rpc_port, request.sql_port, h.zone) for h in hosts]
        cluster_state.bootstrap(state_dir, ClusterSpec(request.version, request.release, servers, request.settings))
        for host in hosts:
            start_observer(host.home)
        wait_cluster_ready(hosts[0].ip, request.sql_port, request.root_password, len(hosts), request.ready_timeout)
        agents: list[dict] = []
        if request.agents:
            agents = start_agents(hosts, request)
        document = cluster_document(request, hosts, agents)
        (root / CLUSTER_FILE).write_text(json.dumps(document, indent=2) + "\n")
        return document
    except BaseException:
        sim_down(root)
        raise


# --- down ---------------------------------------------------------------------------------

def _agent_pid(agent_home: Path) -> int | None:
    try:
        text = (agent_home / "run" / "pyobshell.pid").read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _belongs_to(pid: int, directory: Path) -> bool:
    """Guard against pid reuse: the process must run from inside the cluster directory."""
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return cwd.startswith(str(directory)) or str(directory) in cmdline


def cluster_pids(directory: Path) -> list[int]:
    """Pids of every live observer and agent that `sim up` started in ``directory``."""
    hosts_dir = directory / "hosts"
    pids = []
    if hosts_dir.is_dir():
        for host in sorted(hosts_dir.iterdir()):
            for pid in (read_pid(host / "oceanbase"), _agent_pid(host / "agent")):
                if pid and process_alive(pid) and _belongs_to(pid, directory):
                    pids.append(pid)
    return pids


def sim_down(directory: Path, grace: float = 5.0) -> list[int]:
    """Stop every process of the cluster in ``directory`` (TERM, then KILL); return their pids."""
    directory = directory.resolve()
    if not directory.is_dir():
        raise SimError(f"{directory} is not a simulated cluster directory")
    pids = cluster_pids(directory)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(process_alive(pid) for pid in pids):
        time.sleep(0.05)
    for pid in pids:
        if process_alive(pid):
            _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(process_alive(pid) for pid in pids):
        time.sleep(0.05)
    return pids


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def load_cluster(directory: Path) -> dict:
    try:
        return json.loads((directory / CLUSTER_FILE).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise SimError(f"no usable {CLUSTER_FILE} in {directory}: {error}") from None


__all__ = ["SimError", "UpRequest", "sim_up", "sim_down", "load_cluster", "cluster_pids"]
