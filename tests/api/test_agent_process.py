"""The agent as a real process: `agent start` daemonizes, serves, refuses bad starts, `agent stop`."""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from pyobshell.observer_config import write_config

pytestmark = pytest.mark.multiprocess

AGENT_CMD = [sys.executable, "-m", "pyobshell.cli.agent_cmd"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def agent(*args: str, password: str | None = "pw", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "OB_ROOT_PASSWORD"}
    if password is not None:
        env["OB_ROOT_PASSWORD"] = password
    return subprocess.run([*AGENT_CMD, *args], env=env, capture_output=True, text=True, timeout=timeout)


def one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def ob_home(tmp_path: Path) -> Path:
    home = tmp_path / "ob"
    write_config(home, {"mysql_port": str(free_port()), "zone": "zone1"})  # nothing listens there
    return home


@pytest.fixture
def running_agent(tmp_path: Path, ob_home: Path) -> Iterator[tuple[Path, int]]:
    home, port = tmp_path / "agent", free_port()
    started = agent("start", "--home", str(home), "--ip", "127.0.0.1", "--port", str(port), "--ob-home", str(ob_home))
    assert started.returncode == 0, started.stderr + (home / "log" / "pyobshell.out").read_text()
    yield home, port
    agent("stop", "--home", str(home))


def test_start_status_stop(running_agent: tuple[Path, int]) -> None:
    home, port = running_agent
    pid = int((home / "run" / "pyobshell.pid").read_text())
    body = httpx.get(f"http://127.0.0.1:{port}/api/v1/status", timeout=10).json()
    assert body["successful"] is True
    assert body["data"]["pid"] == pid and body["data"]["obState"] in (0, 1)
    assert (home / "log" / "pyobshell.log").stat().st_size > 0

    stopped = agent("stop", "--home", str(home))
    assert stopped.returncode == 0, stopped.stderr
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not (home / "run" / "pyobshell.pid").exists()
    assert "agent stopped" in (home / "log" / "pyobshell.log").read_text()
    assert "no agent is running" in agent("stop", "--home", str(home)).stdout


def test_start_refuses_a_home_in_use_and_a_busy_port(running_agent: tuple[Path, int], tmp_path: Path, ob_home: Path) -> None:
    home, port = running_agent
    same_home = agent("start", "--home", str(home), "--ip", "127.0.0.1", "--port", str(free_port()), "--ob-home", str(ob_home))
    one_line_error(same_home, "in use")
    busy = agent("start", "--home", str(tmp_path / "other"), "--ip", "127.0.0.1", "--port", str(port), "--ob-home", str(ob_home))
    one_line_error(busy, "busy", str(port))


def test_start_refuses_missing_config_and_password(tmp_path: Path, ob_home: Path) -> None:
    common = ["--home", str(tmp_path / "agent"), "--ip", "127.0.0.1", "--port", str(free_port())]
    (tmp_path / "empty").mkdir()
    one_line_error(agent("start", *common, "--ob-home", str(tmp_path / "empty")), "observer config")
    one_line_error(agent("start", *common, "--ob-home", str(ob_home), password=None), "OB_ROOT_PASSWORD")
    assert not (tmp_path / "agent" / "run" / "pyobshell.pid").exists()


def test_daemon_failure_is_reported_from_its_log(tmp_path: Path, ob_home: Path) -> None:
    """A failure only the daemon sees (another holder of the home lock) reaches the caller."""
    home = tmp_path / "agent"
    (home / "run").mkdir(parents=True)
    with open(home / "run" / "pyobshell.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = agent("start", "--home", str(home), "--ip", "127.0.0.1", "--port", str(free_port()), "--ob-home", str(ob_home))
    one_line_error(result, "in use by another agent")
    assert not (home / "run" / "pyobshell.pid").exists()


def test_start_gives_up_when_the_daemon_never_answers(tmp_path: Path, ob_home: Path) -> None:
    home = tmp_path / "agent"
    result = agent(
        "start", "--home", str(home), "--ip", "127.0.0.1", "--port", str(free_port()), "--ob-home", str(ob_home),
        "--timeout", "0",
    )  # fmt: skip
    one_line_error(result, "did not answer")
