"""Starting one pyobshell agent beside each simulated observer, as `pyobshell agent start`
would be run on every host of a real cluster."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyobshell.sim.sim_cluster import Host, UpRequest


def agents_available() -> bool:
    return importlib.util.find_spec("pyobshell.cli.agent_cmd") is not None


def start_agents(hosts: list["Host"], request: "UpRequest") -> list[dict]:
    from pyobshell.sim.sim_cluster import SimError

    env = {**os.environ, "OB_ROOT_PASSWORD": request.root_password}

    def start(host: "Host") -> subprocess.CompletedProcess:
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
    return [{"ip": host.ip, "port": request.agent_port, "home": str(host.agent_home)} for host in hosts]
