"""A real agent follows its observer: obState 3 while it serves, 0 once it is killed, 3 again
after it is started — without restarting the agent."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from pyobshell.observer_config import read_pid
from tests.helpers.sim import sim_cluster, wait_for
from tests.helpers import nets

pytestmark = pytest.mark.multiprocess


def ob_state(agent: dict) -> int:
    response = httpx.get(f"http://{agent['ip']}:{agent['port']}/api/v1/status", timeout=5)
    return response.json()["data"]["obState"]


def test_agent_survives_the_observer_going_away_and_coming_back(tmp_path: Path) -> None:
    with sim_cluster(tmp_path / "c", net=nets.AGENT_OBSERVER_STATE, zones=1, password="state-pw", agents=True) as cluster:
        agent, observer = cluster["agents"][0], cluster["observers"][0]
        home = Path(observer["home"])
        wait_for(lambda: ob_state(agent) == 3, 30, "obState AVAILABLE")
        os.kill(read_pid(home), signal.SIGKILL)
        wait_for(lambda: ob_state(agent) == 0, 30, "obState NOT RUNNING after kill -9")
        subprocess.run([str(home / "bin" / "observer")], cwd=home, check=True, timeout=60)
        wait_for(lambda: ob_state(agent) == 3, 30, "obState AVAILABLE after the restart")
        status = httpx.get(f"http://{agent['ip']}:{agent['port']}/api/v1/status", timeout=5).json()
        assert status["successful"] and status["data"]["sqlPort"] == observer["sql_port"]
