"""`pyobshell agent start|stop`: run an agent beside an observer, as a daemon or in the foreground."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import psutil
import typer

from pyobshell.agent.home import AgentHome, is_agent_process

if TYPE_CHECKING:
    from pyobshell.agent.config import AgentConfig

app = typer.Typer(help="Run a pyobshell agent beside an observer.", no_args_is_help=True)

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


@app.command()
def start(
    home: Annotated[Path, typer.Option("--home", help="agent home: pid, logs, key pair, store")],
    ip: Annotated[str, typer.Option("--ip", help="address to listen on (also the agent's identity)")],
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="HTTP port")],
    ob_home: Annotated[Path, typer.Option("--ob-home", help="home of the observer this agent manages")],
    foreground: Annotated[bool, typer.Option("--foreground", help="run in this process")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds to wait for the daemon to answer")] = START_TIMEOUT_S,
) -> None:
    """Start an agent; without --foreground it returns once the HTTP port answers."""
    # The agent's modules load only here: every other pyobshell command starts without them.
    from pyobshell.agent.config import AgentConfig, AgentStartError, password_from_env
    from pyobshell.agent.process import bind_listener, ensure_home_free, read_observer_target
    from pyobshell.cli.agent_daemon import run_foreground

    try:
        config = AgentConfig(home.resolve(), ip, port, ob_home.resolve(), password_from_env())
        read_observer_target(config)
        ensure_home_free(AgentHome(config.home))
        if foreground:
            run_foreground(config)
            return
        bind_listener(ip, port).close()  # a busy port is reported here, not in the log
        pid = launch_daemon(config, timeout)
    except AgentStartError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"agent started: pid {pid}, http://{ip}:{port}")


def launch_daemon(config: AgentConfig, timeout_s: float) -> int:
    """Start the daemon detached (``agent_daemon``); wait until it serves or fails."""
    from pyobshell.agent.config import AgentStartError

    agent_home = AgentHome(config.home)
    agent_home.create_dirs()
    console = agent_home.console_file
    offset = console.stat().st_size if console.exists() else 0
    command = [  # the lean entry point: the daemon does without the CLI libraries (memory)
        sys.executable, "-m", "pyobshell.cli.agent_daemon",
        "--home", str(config.home), "--ip", config.ip, "--port", str(config.port),
        "--ob-home", str(config.ob_home), "--foreground",
    ]  # fmt: skip
    with open(console, "ab") as out:
        child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, cwd=config.home
        )
    deadline = time.monotonic() + timeout_s
    url = f"http://{_host_for_url(config.ip)}:{config.port}/api/v1/status"
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise AgentStartError(_last_reason(console, offset) or f"agent exited with code {child.returncode}")
        if _answers(url):
            return child.pid
        time.sleep(0.1)
    terminate(child.pid, 5.0)
    child.wait()
    agent_home.remove_pid(child.pid)
    raise AgentStartError(f"agent did not answer on {config.ip}:{config.port} within {timeout_s:g}s; see {console}")


def _host_for_url(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def _answers(url: str) -> bool:
    import httpx  # noqa: PLC0415 - only the launcher needs it; the daemon stays without (memory)

    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _last_reason(console: Path, offset: int) -> str:
    """The daemon's own one-line reason ("error: ...") from what it wrote after ``offset``."""
    try:
        with open(console, "rb") as stream:
            stream.seek(offset)
            lines = stream.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        if line.startswith("error: "):
            return line.removeprefix("error: ")
    return next((line for line in reversed(lines) if line.strip()), "")


@app.command()
def stop(
    home: Annotated[Path, typer.Option("--home", help="agent home")],
    timeout: Annotated[float, typer.Option("--timeout", help="seconds to wait after SIGTERM before SIGKILL")] = STOP_TIMEOUT_S,
) -> None:
    """Stop the agent of a home: SIGTERM, wait, then SIGKILL; removes the pid file."""
    agent_home = AgentHome(home.resolve())
    pid = agent_home.read_pid()
    if pid is None:
        typer.echo(f"no agent is running in {agent_home.root}")
        return
    if not is_agent_process(pid):
        agent_home.remove_pid()
        typer.echo(f"no agent is running in {agent_home.root} (removed a stale pid file)")
        return
    how = terminate(pid, timeout)
    agent_home.remove_pid(pid)
    typer.echo(f"agent stopped: pid {pid} ({how})")


def terminate(pid: int, timeout_s: float) -> str:
    """SIGTERM, then SIGKILL after ``timeout_s``; returns how the process ended."""
    try:
        process = psutil.Process(pid)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout_s)
        return "SIGTERM"
    except psutil.NoSuchProcess:
        return "already gone"
    except psutil.TimeoutExpired:
        pass
    except psutil.AccessDenied as exc:
        raise fail(f"not allowed to signal pid {pid}") from exc
    try:
        process.kill()
        process.wait(5)
    except psutil.NoSuchProcess:
        pass
    return "SIGKILL"


if __name__ == "__main__":  # python -m pyobshell.cli.agent_cmd start ... (tests, by hand)
    app()
