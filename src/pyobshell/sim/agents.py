"""Starting one pyobshell agent beside each simulated observer, as `pyobshell agent start`
would be run on every host of a real cluster."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from pyobshell.sim.topology import Host, SimError, UpRequest

CLUSTER_AGENT = "CLUSTER AGENT"
JOIN_TIMEOUT_S = 120.0

def agents_available() -> bool:
    return importlib.util.find_spec("pyobshell.cli.agent_cmd") is not None


def start_agents(hosts: list[Host], request: UpRequest) -> list[dict]:
    env = {**os.environ, "OB_ROOT_PASSWORD": request.root_password}

    def start(host: Host) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "pyobshell.cli.main", "agent", "start", "--home", str(host.agent_home),
                   "--ip", host.ip, "--port", str(request.agent_port), "--ob-home", str(host.home)]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    # Agents start independently, as on separate hosts; waiting for each in turn would only add up.
    with ThreadPoolExecutor(max_workers=min(len(hosts), 8)) as pool:
        results = list(pool.map(start, hosts))
    failed = [(host, result) for host, result in zip(hosts, results) if result.returncode != 0]
    if failed:
        host, result = failed[0]
        raise SimError(f"agent on {host.ip} did not start: {(result.stderr or result.stdout).strip()}")
    wait_for_cluster_agents([host.ip for host in hosts], request.agent_port)
    return [{"ip": host.ip, "port": request.agent_port, "home": str(host.agent_home)} for host in hosts]


def _identity(client: httpx.Client, ip: str, port: int) -> str:
    try:
        body = client.get(f"http://{ip}:{port}/api/v1/status").json()
        return str(body["data"]["agent"]["identity"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return ""


def wait_for_cluster_agents(ips: list[str], port: int, timeout_s: float = JOIN_TIMEOUT_S) -> None:
    """Return once every agent reports itself a CLUSTER AGENT (it joined the cluster)."""
    deadline = time.monotonic() + timeout_s
    waiting = list(ips)
    with httpx.Client(timeout=5.0) as client:
        while waiting:
            waiting = [ip for ip in waiting if _identity(client, ip, port) != CLUSTER_AGENT]
            if not waiting:
                return
            if time.monotonic() >= deadline:
                raise SimError(f"agents on {', '.join(waiting)} did not become cluster agents in {timeout_s:.0f} s")
            time.sleep(0.2)
