"""What every upgrade task shares: its agent's environment, backing-off polls, commands that
stop when the task is cancelled, and the per-host "real execute agent" rule."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pyobshell.engine import AgentInfo, Task
from pyobshell.errors import ObshellError
from pyobshell.upgrade import environment as task_environment
from pyobshell.upgrade.environment import TaskEnvironment
from pyobshell.upgrade.packages.store import PACKAGE_STORE_UNAVAILABLE, PackageStore
from pyobshell.upgrade.route import RouteStep
from pyobshell.upgrade.tasks import commands
from pyobshell.upgrade.tasks import context as ctx
from pyobshell.upgrade.tasks.commands import CommandResult, CommandTimeout  # noqa: F401 - re-exported
from pyobshell.upgrade.tasks.codes import CONTEXT_INVALID, DIR_FAILED

T = TypeVar("T")
PROGRESS_AFTER_S = 5.0  # a wait this long logs what it waits on whenever that changes
PROGRESS_EVERY_S = 30.0  # and at least this often
SHARED_HOST_LOG = ("Due to multiple agents being on this machine, only one needs to perform this sub task "
                   "({} does).")


@dataclass(frozen=True)
class PollResult:
    done: bool
    seen: str  # what the last probe saw, for the log and the timeout message


def describe(error: BaseException) -> str:
    return error.message if isinstance(error, ObshellError) else (str(error) or type(error).__name__)


class UpgradeTask(Task):
    """Base of the upgrade task types."""

    @property
    def env(self) -> TaskEnvironment:
        return task_environment.current(self.executer_agent)

    # -- context ---------------------------------------------------------------------------
    def upgrade_dir(self) -> Path:
        """``upgradeDir`` from this agent's local data, else the param, else ``<ob home>/upgrade``."""
        recorded = self.get_local_data(ctx.LOCAL_UPGRADE_DIR)
        raw = recorded or str(self.context.get_param(ctx.UPGRADE_DIR) or "").strip()
        path = Path(raw) if raw else self.env.ob_home / "upgrade"
        if not path.is_absolute():
            raise CONTEXT_INVALID(f"upgrade dir '{path}' is not an absolute path")
        return path

    def task_dir(self) -> Path:
        recorded = self.get_local_data(ctx.LOCAL_TASK_DIR)
        return Path(recorded) if recorded else self.upgrade_dir() / f"rpm-{ctx.task_time(self.context)}"

    def rpm_dir(self, node: RouteStep) -> Path:
        return self.task_dir() / self.env.arch / node.number

    def package_file(self, name: str, node: RouteStep, agent: AgentInfo | None = None) -> ctx.PackageFile:
        """The downloaded package ``name`` of hop ``node`` (this agent's local data by default)."""
        owner = agent or self.executer_agent
        raw = self.context.get_agent_data(owner, ctx.package_key(name, node))
        if raw is None:
            raise CONTEXT_INVALID(f"agent {owner} has no downloaded {name} package of {node.build_version}; "
                                  "run 'Download all required packages' first")
        return ctx.PackageFile.from_dict(raw)

    def real_execute_agent(self) -> AgentInfo:
        """The agent doing per-host work for this host: the first of ``allAgents`` with this IP."""
        for raw in self.context.get_param(ctx.ALL_AGENTS) or []:
            try:
                agent = AgentInfo.from_any(raw)
            except (TypeError, ValueError):
                continue
            if agent.ip == self.executer_agent.ip:
                return agent
        return self.executer_agent

    def another_agent_does_it(self) -> bool:
        """True (and logged) when another agent on this host does the per-host work."""
        real = self.real_execute_agent()
        if real == self.executer_agent:
            return False
        self.log_info(SHARED_HOST_LOG.format(real))
        return True

    def package_store(self) -> PackageStore:
        """The cluster's package store; right after an agent restart it opens a little after
        the engine resumes this sub-task, so wait for it (bounded by ``store_wait_s``)."""
        budget = self.env.timings.store_wait_s
        start, delay, logged = time.monotonic(), self.env.timings.poll_first_s, False
        while True:
            try:
                return self.env.package_store()
            except ObshellError as exc:
                if exc.error_code is not PACKAGE_STORE_UNAVAILABLE or time.monotonic() - start >= budget:
                    raise
                if not logged:
                    self.log_info(f"waiting up to {budget:g} s for the cluster's package store: {exc.message}")
                    logged = True
            self.sleep(delay)
            delay = min(delay * self.env.timings.poll_factor, 1.0)

    # -- waiting ---------------------------------------------------------------------------
    def poll_until(self, what: str, probe: Callable[[], PollResult], budget_s: float) -> tuple[bool, float, str]:
        """Probe fast, then back off to ``poll_max_s``, until done or the budget is spent.

        Returns (done, elapsed seconds, last thing seen). A probe that raises counts as
        "not yet"; its error is what was last seen."""
        timings = self.env.timings
        start = time.monotonic()
        delay, seen = timings.poll_first_s, "nothing yet"
        reported, reported_at = seen, start
        while True:
            try:
                result = probe()
                if result.done:
                    return True, time.monotonic() - start, result.seen
                seen = result.seen
            except ObshellError as exc:
                seen = f"query failed: {exc.message}"
            elapsed = time.monotonic() - start
            # A long wait is never silent: past a few seconds it logs what it waits on, when
            # that changes and every so often (short waits, the usual case, log nothing).
            changed = seen != reported and elapsed >= PROGRESS_AFTER_S
            if changed or time.monotonic() - reported_at >= PROGRESS_EVERY_S:
                self.log_info(f"waiting for {what} ({elapsed:.0f} s of {budget_s:.0f} s): {seen}")
                reported, reported_at = seen, time.monotonic()
            if elapsed >= budget_s:
                self.log_warn(f"gave up waiting for {what} after {elapsed:.1f} s; last seen: {seen}")
                return False, elapsed, seen
            self.sleep(min(delay, max(budget_s - elapsed, 0.0)))
            delay = min(delay * timings.poll_factor, timings.poll_max_s)

    # -- commands --------------------------------------------------------------------------
    def run_command(self, argv: Sequence[str], *, cwd: Path | None = None, timeout_s: float | None = None,
                    extra_env: Mapping[str, str] | None = None, stdin_text: str | None = None,
                    on_line: Callable[[str], None] | None = None,
                    on_start: Callable[[subprocess.Popen[bytes]], None] | None = None) -> CommandResult:
        """Run ``argv`` (see :func:`commands.run`), killed when the task is interrupted."""
        return commands.run(argv, sleep=self.sleep, cwd=cwd, timeout_s=timeout_s, extra_env=extra_env,
                            stdin_text=stdin_text, on_line=on_line, on_start=on_start)


def remove_tree(path: Path) -> bool:
    """Remove ``path`` (file, link or tree); False when there was nothing to remove."""
    if not path.exists() and not path.is_symlink():
        return False
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except OSError as exc:
        raise DIR_FAILED(f"cannot remove {path}: {exc.strerror or exc}; remove it by hand and retry") from exc
    return True
