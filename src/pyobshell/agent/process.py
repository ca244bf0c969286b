"""Running an agent in the foreground: checks, pid file, home lock, uvicorn, clean shutdown."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import uvicorn

from pyobshell.agent.config import AgentConfig, AgentStartError
from pyobshell.agent.http_protocol import protocol_with_header_timeout
from pyobshell.agent.home import AgentHome
from pyobshell.agent.logs import configure_logging
from pyobshell.agent.tasks import TaskModuleError, load_task_modules
from pyobshell.agent.wiring import build_state
from pyobshell.api.app import create_app
from pyobshell.ob.target import ObserverConfigError, ObserverTarget, load_observer_target

log = logging.getLogger(__name__)

GRACEFUL_SHUTDOWN_S = 5


def read_observer_target(config: AgentConfig) -> ObserverTarget:
    if not config.ob_home.is_dir():
        raise AgentStartError(f"OB home {config.ob_home} does not exist")
    try:
        return load_observer_target(config.ob_home, config.ip, config.root_password)
    except ObserverConfigError as exc:
        raise AgentStartError(f"OB home {config.ob_home} has no usable observer config: {exc}") from exc


def ensure_home_free(home: AgentHome) -> None:
    pid = home.running_pid()
    if pid is not None and pid != os.getpid():
        raise AgentStartError(f"home {home.root} is in use by a running agent (pid {pid})")


def bind_listener(ip: str, port: int) -> socket.socket:
    """Bind the HTTP port now, so a busy port is a clear error rather than a server crash."""
    try:
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets that say TCP;
        # without it every keep-alive response waits ~40 ms for the client's delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    except OSError as exc:
        raise AgentStartError(f"cannot open a socket for {ip}:{port}: {exc.strerror}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise AgentStartError(f"port {port} on {ip} is busy") from exc
        raise AgentStartError(f"cannot listen on {ip}:{port}: {exc.strerror}") from exc
    except OverflowError as exc:
        sock.close()
        raise AgentStartError(f"invalid port {port}") from exc
    return sock


@contextmanager
def home_lock(home: AgentHome) -> Iterator[IO[str]]:
    """Hold an exclusive lock on the home for the agent's lifetime (closes the start race)."""
    lock_file = open(home.run_dir / "pyobshell.lock", "a+")  # noqa: SIM115 - held until exit
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        lock_file.close()
        raise AgentStartError(f"home {home.root} is in use by another agent") from exc
    try:
        yield lock_file
    finally:
        lock_file.close()


@contextmanager
def signals_end_quietly() -> Iterator[None]:
    """After a graceful shutdown uvicorn re-raises the signal that caused it; with the default
    handlers that would kill us before the pid file is removed, so make it a no-op meanwhile."""
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve(config: AgentConfig) -> None:
    """Run the agent until SIGTERM/SIGINT. Raises AgentStartError if it cannot start."""
    home = AgentHome(config.home)
    try:
        home.create_dirs()
    except OSError as exc:
        raise AgentStartError(f"cannot create agent home {config.home}: {exc.strerror}") from exc
    configure_logging(home.log_file)
    ensure_home_free(home)
    with home_lock(home):
        target = read_observer_target(config)
        try:
            load_task_modules()  # before the engine recovers DAGs that may use their task types
        except TaskModuleError as exc:
            raise AgentStartError(str(exc)) from exc
        sock = bind_listener(config.ip, config.port)
        pid = os.getpid()
        home.write_pid(pid)
        try:
            state = build_state(config, target)
            log.info("agent starting on %s:%d (pid %d), observer %s:%d", config.ip, config.port, pid, target.host, target.sql_port)
            uvicorn_config = uvicorn.Config(
                create_app(state),
                log_config=None,
                access_log=False,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
                http=protocol_with_header_timeout(state.request_timeouts.header_s),
            )
            with signals_end_quietly():
                uvicorn.Server(uvicorn_config).run(sockets=[sock])
            log.info("agent stopped")
        finally:
            sock.close()
            home.remove_pid(pid)
