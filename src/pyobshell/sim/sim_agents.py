"""Starting one pyobshell agent beside each simulated observer, as `pyobshell agent start`
would be run on every host of a real cluster."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyobshell.sim.sim_cluster import Host, UpRequest


def agents_available() -> bool:
    return importlib.util.find_spec("pyobshell.cli.agent_cmd") is not None


def start_agents(hosts: list["Host"], request: "UpRequest") -> list[dict]:
    from pyobshell.sim.sim_cluster import SimError

    env = {**os.environ, "OB_ROOT_PASSWORD": request.root_password}
    agents = []
    for host in hosts:
        command = [sys.executable, "-m", "pyobshell.cli.main", "agent", "start", "--home", str(host.agent_home),
                   "--ip", host.ip, "--port", str(request.agent_port), "--ob-home", str(host.home)]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise SimError(f"agent on {host.ip} did not start: {(result.stderr or result.stdout).strip()}")
        agents.append({"ip": host.ip, "port": request.agent_port, "home": str(host.agent_home)})
    return agents
