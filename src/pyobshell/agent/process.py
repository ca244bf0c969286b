"""Running an agent in the foreground: checks, pid file, home lock, uvicorn, clean shutdown."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

import uvicorn

from pyobshell.agent.home import AgentHome
from pyobshell.agent.tasks import AgentTasks, TaskModuleError, load_task_modules, open_cluster_store
from pyobshell.security.agent_security import AgentSecurity
from pyobshell.api.app import create_app
from pyobshell.agent.logs import configure_logging
from pyobshell.agent.root_password import RootPasswordKeeper
from pyobshell.api.secret_source import SECURITY_NOT_READY, key_pair_public_key
from pyobshell.api.state import AgentState
from pyobshell.agent.peers import cluster_peer_statuses
from pyobshell.wire.agent import AgentIdentity
from pyobshell.cluster.agent_registry import CLUSTER_AGENT, AgentRecord
from pyobshell.cluster.cluster_agent import ClusterAgent
from pyobshell.cluster.settings import ClusterSettings, SettingsError
from pyobshell.upgrade import task_environment, tasks as _upgrade_task_types  # noqa: F401 - registers them
from pyobshell.upgrade.package_store import PackageStore
from pyobshell.upgrade.task_environment import TaskEnvironment
from pyobshell.api.routes.package import PACKAGE_STORE_UNAVAILABLE
from pyobshell.engine import AgentInfo, TaskEngine, TaskStore
from pyobshell.errors import ObshellError
from pyobshell.ob.connection import ObConnectionPool, PoolOptions
from pyobshell.ob.endpoints import ObserverEndpoints, SqlEndpoint
from pyobshell.ob.monitor import ObStateMonitor
from pyobshell.ob.target import ObserverConfigError, ObserverTarget, load_observer_target
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.session_store import SessionStore
from pyobshell.security.settings import SecuritySettings, SecuritySettingsError

log = logging.getLogger(__name__)

PASSWORD_ENV = "OB_ROOT_PASSWORD"
GRACEFUL_SHUTDOWN_S = 5


class AgentStartError(Exception):
    """The agent cannot start; the message is one line meant for the operator."""


@dataclass(frozen=True)
class AgentConfig:
    home: Path
    ip: str
    port: int
    ob_home: Path
    root_password: str = field(repr=False)
    ob_probe_interval_s: float = 2.0


def password_from_env(env: dict[str, str] | None = None) -> str:
    env = dict(os.environ) if env is None else env
    if PASSWORD_ENV not in env:
        raise AgentStartError(f"{PASSWORD_ENV} is not set: the agent needs the root@sys password of the observer")
    return env[PASSWORD_ENV]


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


def build_state(config: AgentConfig, target: ObserverTarget) -> AgentState:
    # The probe watches this observer only; the agent's own SQL reaches the cluster through any.
    probe_pool = ObConnectionPool(target, PoolOptions(connect_timeout_s=1.0, max_idle=0))
    endpoints = ObserverEndpoints(SqlEndpoint(target.host, target.sql_port))
    state = AgentState(
        ip=config.ip,
        port=config.port,
        home=config.home,
        observer=target,
        ob_monitor=ObStateMonitor(probe_pool, interval_s=config.ob_probe_interval_s),
        ob_pool=ObConnectionPool(target, endpoints=endpoints),
        public_key=key_pair_public_key(config.home),
    )
    try:
        state.public_key()  # create the key pair now rather than on the first request
    except ObshellError as exc:
        if exc.error_code is not SECURITY_NOT_READY:
            raise
        log.warning("%s", exc.message)
    state.security = build_security(config, target, state)
    state.tasks = build_tasks(config, state, endpoints)
    state.peer_statuses = lambda: cluster_peer_statuses(state)
    install_upgrade_environment(config, target, state)
    return state


def install_upgrade_environment(config: AgentConfig, target: ObserverTarget, state: AgentState) -> None:
    """What this agent's upgrade tasks use: its observer, its pool, the cluster's package store
    (opened with the cluster store, so looked up when a task needs it)."""
    stores: dict[int, PackageStore] = {}

    def package_store() -> PackageStore:
        engine = state.tasks.cluster_engine if state.tasks is not None else None
        if engine is None:
            raise PACKAGE_STORE_UNAVAILABLE("the cluster's ocs database is not open on this agent")
        if id(engine) not in stores:
            stores.clear()
            stores[id(engine)] = PackageStore(engine)
        return stores[id(engine)]

    try:
        environment = TaskEnvironment.for_observer(
            AgentInfo(config.ip, config.port), config.home, target, package_store, pool=state.ob_pool)
    except (ValueError, ObshellError) as exc:  # the agent still serves; upgrade tasks say why they cannot run
        log.warning("upgrade tasks cannot run on this agent: %s", exc)
        return
    task_environment.install(environment)


def prepare_package_store(agent: AgentInfo) -> None:
    try:
        task_environment.current(agent).package_store().prepare()
    except Exception as exc:  # the first use prepares them and reports what is wrong
        log.info("package tables not checked at start (%s); the first upgrade does it", exc)


def build_tasks(config: AgentConfig, state: AgentState, endpoints: ObserverEndpoints) -> AgentTasks:
    """The local engine on the home's SQLite file; the cluster store opens when OB is available,
    and then the agent joins the cluster (it becomes a CLUSTER AGENT)."""
    owner = AgentInfo(config.ip, config.port)
    try:
        settings = ClusterSettings.from_env()
    except SettingsError as exc:
        raise AgentStartError(str(exc)) from exc

    def open_cluster() -> TaskStore:  # with the newest root password a client proved
        assert state.observer is not None
        return open_cluster_store(state.observer, state.root_password, owner, endpoints)

    def became_cluster_agent() -> None:
        state.identity = AgentIdentity.CLUSTER_AGENT
        # Check the package tables now, not when the first upgrade downloads its packages.
        threading.Thread(target=prepare_package_store, args=(owner,), name="pyobshell-package-store",
                         daemon=True).start()

    def cluster_agent(local: TaskEngine, cluster: TaskStore) -> ClusterAgent:
        record = AgentRecord(ip=config.ip, port=config.port, zone=state.observer.zone if state.observer else "",
                             version=state.version, home_path=str(config.home), identity=CLUSTER_AGENT,
                             public_key=state.public_key(), pid=state.pid)
        return ClusterAgent(local, cluster, record, config.home, settings, on_joined=became_cluster_agent)

    try:
        tasks = AgentTasks.for_agent(AgentHome(config.home).store_path, owner, open_cluster,
                                     cluster_agent=cluster_agent)
    except ObshellError as exc:
        raise AgentStartError(exc.message) from exc
    if state.ob_monitor is not None:
        state.ob_monitor.add_listener(tasks.on_ob_state)
    return tasks


def build_security(config: AgentConfig, target: ObserverTarget, state: AgentState) -> AgentSecurity:
    """Request authentication: real root@sys logins, the cluster token, the key pair."""

    def use_new_password(password: str) -> None:  # a client proved the password changed in OB
        for pool in (state.ob_pool, state.ob_monitor.pool if state.ob_monitor else None):
            if pool is not None:
                pool.target = replace(pool.target, password=password)

    try:
        settings = SecuritySettings.from_env()
    except SecuritySettingsError as exc:
        raise AgentStartError(str(exc)) from exc
    sessions = SessionStore(lambda: state.tasks.cluster_engine if state.tasks is not None else None,
                            timeout_s=settings.session_timeout_s, origin=f"{config.ip}:{config.port}")

    def password_changed(password: str) -> None:
        use_new_password(password)
        try:
            ended = sessions.end_all()  # as obshell: a new root password ends every web session
            log.info("the root@sys password changed: %d web session(s) ended", ended)
        except ObshellError as exc:
            log.warning("the root@sys password changed, but the sessions could not be ended: %s", exc.message)

    key_pair = AgentKeyPair.load_or_create(config.home)
    keeper = RootPasswordKeeper.for_observer(target, config.home, key_pair, on_change=password_changed)
    # No agent password can be set yet; a later set-password route passes its source here.
    return AgentSecurity.for_agent(config.home, key_pair, keeper, sessions=sessions, settings=settings.verifier)


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
            )
            with signals_end_quietly():
                uvicorn.Server(uvicorn_config).run(sockets=[sock])
            log.info("agent stopped")
        finally:
            sock.close()
            home.remove_pid(pid)
