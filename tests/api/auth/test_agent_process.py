"""A real agent beside a simulated observer checks the root password by logging in to it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyobshell.client import ObshellApiError, ObshellClient
from tests.helpers.sim import run_cli, sim_cluster, wait_for
from tests.helpers import nets

pytestmark = pytest.mark.multiprocess

NET = nets.AGENT_PROCESS
AGENT_IP = f"127.{NET}.1.1"
AGENT_PORT = 2886
ROOT_PASSWORD = "agent-Process-pw"  # long: a 2-letter one can occur in base64 text by chance


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Path]:
    with sim_cluster(tmp_path / "sim", NET, zones=1, password=ROOT_PASSWORD) as cluster:
        home = tmp_path / "agent"
        env = {**os.environ, "OB_ROOT_PASSWORD": ROOT_PASSWORD}
        args = ["--home", str(home), "--ip", AGENT_IP, "--port", str(AGENT_PORT), "--ob-home", cluster["observers"][0]["home"]]
        try:
            run_cli("agent", "start", *args, env=env)
            yield home
        finally:
            run_cli("agent", "stop", "--home", str(home), check=False)


def test_root_password_is_checked_against_the_observer(agent: Path) -> None:
    with ObshellClient(f"{AGENT_IP}:{AGENT_PORT}", password=ROOT_PASSWORD) as right:
        wait_for(lambda: right.status().obState == 3, timeout=60, what="observer available to the agent")
        statuses = right.agents_status()
        assert statuses[f"{AGENT_IP}:{AGENT_PORT}"].obState == 3
        assert right.request("GET", "/api/v1/agents/status", query={"ob_query_timeout": 1_000_000})

    with ObshellClient(f"{AGENT_IP}:{AGENT_PORT}", password="not-the-password") as wrong:
        with pytest.raises(ObshellApiError) as info:
            wrong.agents_status()
        assert (info.value.status, info.value.err_code) == (401, "Security.Authentication.IncorrectOceanbasePassword")
        with pytest.raises(ObshellApiError):
            wrong.agent_identity()
        assert wrong.info().identity in ("SINGLE", "CLUSTER AGENT")  # public routes need nothing

    sealed = agent / "root_password.sealed"
    assert sealed.exists() and ROOT_PASSWORD.encode() not in sealed.read_bytes()
    assert "Traceback" not in (agent / "log" / "pyobshell.log").read_text()
