"""What an upgrade task needs from the agent it runs on, installed once per agent process.

Upgrade tasks are built by the engine with no arguments (their state comes from the task
context), so the agent's own facts — where the observer lives, how to reach it as root@sys,
where the packages are stored, which Python runs the upgrade scripts — are looked up here::

    install(TaskEnvironment.for_observer(agent, home, target, package_store=factory))
    ...
    env = current(task.executer_agent)   # inside a task, in a worker thread

An agent process installs exactly one environment. Tests that run several agents' sub-tasks
in one process install one per agent; :func:`current` then picks the one of the sub-task's
executing agent.
"""

from __future__ import annotations

import os
import platform
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pyobshell.engine.model import AgentInfo
from pyobshell.errors import ErrorCode, ErrorKind
from pyobshell.ob.connection import ObConnectionPool, PoolOptions
from pyobshell.ob.target import ObserverTarget
from pyobshell.upgrade.packages.store import PackageStore

Row = dict[str, Any]
QueryFn = Callable[[str, Sequence[Any] | None], list[Row]]
ExecuteFn = Callable[[str, Sequence[Any] | None], int]
PackageStoreFactory = Callable[[], PackageStore]
UPGRADE_TIMINGS_ENV = "PYOBSHELL_UPGRADE_TIMINGS"

TASK_ENVIRONMENT_MISSING = ErrorCode(
    "Upgrade.TaskEnvironment.Missing", ErrorKind.UNEXPECTED,
    "No upgrade task environment is installed for agent {}: the agent must call "
    "pyobshell.upgrade.environment.install() before it runs upgrade tasks",
)


@dataclass(frozen=True)
class UpgradeTimings:
    """Poll intervals and wait budgets (seconds). The defaults are for real clusters; tests
    shrink them (an agent reads overrides from ``$PYOBSHELL_UPGRADE_TIMINGS``, see
    :meth:`from_env`). Readiness polls start at ``poll_first_s`` and back off to ``poll_max_s``."""

    poll_first_s: float = 0.05
    poll_max_s: float = 0.2  # a readiness wait notices a change within 0.2 s (obshell: a fixed 5 s)
    poll_factor: float = 1.5
    zone_wait_s: float = 300.0  # STOP/START ZONE until the zone status changes
    leader_drain_wait_s: float = 600.0  # STOP ZONE until the zone leads no log stream (TiUP: 600 s)
    observer_exit_wait_s: float = 75.0  # kill -9 until the process is gone
    observer_start_wait_s: float = 120.0  # `bin/observer` until its launcher returns
    cluster_ready_wait_s: float = 300.0  # every server ACTIVE and every log stream in sync
    freeze_wait_s: float = 1200.0  # minor freeze until every checkpoint moves
    script_timeout_s: int = 0  # the scripts' -t: 0 lets each script use its built-in waits
    script_run_timeout_s: float = 3600.0  # one whole script run, whatever its -t (then the step fails)
    command_timeout_s: float = 60.0  # short commands: python -c, observer -V
    store_wait_s: float = 120.0  # a resumed sub-task waits this long for the cluster's package store

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "UpgradeTimings":
        """The defaults, with the overrides of ``$PYOBSHELL_UPGRADE_TIMINGS``: comma-separated
        ``name=seconds`` pairs naming fields of this class, e.g.
        ``cluster_ready_wait_s=5,poll_max_s=0.5`` (rehearsals and tests that need a failing
        wait to fail fast). A bad entry is a ValueError naming it, never silently ignored
        (the agent logs it, and its upgrade tasks then refuse to run)."""
        text = (os.environ if env is None else env).get(UPGRADE_TIMINGS_ENV, "").strip()
        return cls().with_overrides(text) if text else cls()

    def with_overrides(self, text: str) -> "UpgradeTimings":
        known = {f.name: f.type for f in fields(self)}
        values: dict[str, float | int] = {}
        for entry in filter(None, (part.strip() for part in text.split(","))):
            name, sep, raw = (piece.strip() for piece in entry.partition("="))
            if not sep or name not in known:
                raise ValueError(f"{UPGRADE_TIMINGS_ENV}: {entry!r} is not name=value with a name among "
                                 f"{', '.join(known)}")
            try:
                value = int(raw) if known[name] in (int, "int") else float(raw)
            except ValueError:
                raise ValueError(f"{UPGRADE_TIMINGS_ENV}: {name} needs a number, got {raw!r}") from None
            if not value >= 0 or value == float("inf"):
                raise ValueError(f"{UPGRADE_TIMINGS_ENV}: {name} must be a finite number >= 0, got {raw!r}")
            values[name] = value
        return replace(self, **values)


@dataclass(frozen=True)
class TaskEnvironment:
    """One agent's view of its host and observer, as the upgrade tasks use it.

    ``query``/``execute`` run one statement on the local observer as root@sys and block (tasks
    run in worker threads); failures raise :class:`pyobshell.errors.ObshellError`.
    """

    agent: AgentInfo
    home: Path  # the agent's home
    ob_home: Path
    observer_ip: str
    sql_port: int
    rpc_port: int
    query: QueryFn = field(repr=False)
    execute: ExecuteFn = field(repr=False)
    package_store: PackageStoreFactory = field(repr=False)
    root_password: str = field(default="", repr=False)
    python: str = sys.executable  # interpreter that runs the packages' upgrade scripts
    arch: str = field(default_factory=platform.machine)
    timings: UpgradeTimings = field(default_factory=UpgradeTimings)

    @property
    def server(self) -> str:
        """``ip:rpc_port``, how OceanBase names this observer in SQL."""
        return f"{self.observer_ip}:{self.rpc_port}"

    @classmethod
    def for_observer(cls, agent: AgentInfo, home: Path, target: ObserverTarget,
                     package_store: PackageStoreFactory, *, pool: ObConnectionPool | None = None,
                     python: str | None = None, arch: str | None = None,
                     timings: UpgradeTimings | None = None) -> "TaskEnvironment":
        """An environment reaching ``target`` through ``pool`` (a new pool when None)."""
        if target.rpc_port is None:
            raise ValueError(f"observer config in {target.ob_home} has no rpc_port")
        sql = pool or ObConnectionPool(target, PoolOptions(connect_timeout_s=3.0, read_timeout_s=60.0))
        return cls(
            agent=agent, home=Path(home), ob_home=Path(target.ob_home), observer_ip=target.host,
            sql_port=target.sql_port, rpc_port=target.rpc_port,
            query=lambda statement, args=None: sql.query(statement, args),
            execute=lambda statement, args=None: sql.execute(statement, args),
            package_store=package_store, root_password=target.password,
            python=python or upgrade_python(), arch=arch or platform.machine(),
            timings=timings or UpgradeTimings.from_env(),
        )


_lock = threading.Lock()
_installed: dict[str, TaskEnvironment] = {}


def install(environment: TaskEnvironment) -> TaskEnvironment:
    """Make ``environment`` the one of its agent (replacing an earlier one)."""
    with _lock:
        _installed[str(environment.agent)] = environment
    return environment


def uninstall(agent: AgentInfo | None = None) -> None:
    """Forget the environment of ``agent``, or every environment."""
    with _lock:
        if agent is None:
            _installed.clear()
        else:
            _installed.pop(str(agent), None)


def current(agent: AgentInfo | None = None) -> TaskEnvironment:
    """The environment of ``agent``; with none given, or none installed for it, the only one
    installed (an agent process has exactly one). Raises ``Upgrade.TaskEnvironment.Missing``."""
    with _lock:
        if agent is not None and str(agent) in _installed:
            return _installed[str(agent)]
        if len(_installed) == 1:
            return next(iter(_installed.values()))
        installed = sorted(_installed)
    wanted = str(agent) if agent is not None else "(any)"
    if installed:
        wanted += f" (installed only for {', '.join(installed)})"
    raise TASK_ENVIRONMENT_MISSING(wanted)


UPGRADE_PYTHON_ENV = "PYOBSHELL_UPGRADE_PYTHON"


def upgrade_python() -> str:
    """The interpreter that runs the packages' upgrade scripts: ``$PYOBSHELL_UPGRADE_PYTHON``,
    else the agent's own (which has mysql.connector)."""
    return os.environ.get(UPGRADE_PYTHON_ENV) or sys.executable
