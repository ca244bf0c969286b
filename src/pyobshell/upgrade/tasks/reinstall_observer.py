"""Reinstall and restart observer (reference §6.5, internals §4): kill -9 the observer, copy the
hop's unpacked tree over its home, start ``bin/observer`` with no arguments (it reloads its
saved config), then wait until the whole cluster serves again.

Retry and continue (after an agent restart) are safe: an observer that already runs the new
binary — installed, and started after it was installed — is not killed again; the task only
waits for it.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil

from pyobshell.engine import Node, TaskContext, register_task_type
from pyobshell.engine.model import EXECUTE_AGENTS_KEY, AgentInfo
from pyobshell.ob import servers
from pyobshell.ob.process import observer_pid, process_start_time
from pyobshell.upgrade.tasks import context as ctx
from pyobshell.upgrade.tasks.base import CommandTimeout, PollResult, UpgradeTask
from pyobshell.upgrade.tasks.codes import OBSERVER_KILL_TIMEOUT, OBSERVER_NOT_AVAILABLE, OBSERVER_START_FAILED
from pyobshell.upgrade.tasks.observer_files import copy_tree_over, same_content

_START_TIME_SLACK_S = 0.05  # process start times are counted in clock ticks (10 ms)


def process_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def started_after(pid: int, path: Path) -> bool:
    """Whether process ``pid`` started after ``path`` was last written."""
    started = process_start_time(pid)
    try:
        return started is not None and started + _START_TIME_SLACK_S >= path.stat().st_mtime
    except OSError:
        return False


@register_task_type
class ReinstallAndRestartObserverTask(UpgradeTask):
    name = "Reinstall and restart observer"
    can_continue = can_retry = True

    def execute(self) -> None:
        index, node = ctx.hop(self.context)
        package = self.package_file(ctx.package_names(self.context)[0], node, self.real_execute_agent())
        env = self.env
        installed = env.ob_home / "bin" / "observer"
        pid = observer_pid(env.ob_home)
        if pid is not None and same_content(installed, package.home_path / "bin" / "observer") \
                and started_after(pid, installed):
            self.log_info(f"observer {env.observer_ip} pid {pid} already runs {package.build_version} "
                          "(started after it was installed): not restarting it")
        else:
            if pid is not None:
                self._kill(pid)
            else:
                self.log_info(f"no observer running in {env.ob_home}")
            copied = copy_tree_over(package.home_path, env.ob_home)
            self.log_info(f"copied {copied} files from {package.home_path} over {env.ob_home}")
            self._start()
        self._wait_until_serving(package.build_version)

    def _kill(self, pid: int) -> None:
        ip = self.env.observer_ip
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError as exc:
            raise OBSERVER_KILL_TIMEOUT(f"not allowed to kill observer {ip} pid {pid}: run the agent as the "
                                        "observer's user") from exc
        done, elapsed, _ = self.poll_until(f"observer pid {pid} to exit",
                                           lambda: PollResult(process_gone(pid), "alive"),
                                           self.env.timings.observer_exit_wait_s)
        if not done:
            raise OBSERVER_KILL_TIMEOUT(f"kill observer process timeout: pid {pid} still exists after "
                                        f"{elapsed:.0f} s; kill it by hand, then retry")
        self.log_info(f"observer {ip} pid {pid} killed ({elapsed:.1f} s)")

    def _start(self) -> None:
        home = self.env.ob_home
        binary = home / "bin" / "observer"
        try:
            result = self.run_command([str(binary)], cwd=home, timeout_s=self.env.timings.observer_start_wait_s,
                                      extra_env={"LD_LIBRARY_PATH": str(home / "lib")})
        except (OSError, CommandTimeout) as exc:
            raise OBSERVER_START_FAILED(f"cannot start {binary}: {exc}; see {home / 'log' / 'observer.log'}") from exc
        if result.returncode != 0:
            raise OBSERVER_START_FAILED(f"{binary} exited with {result.returncode}: {result.last_lines(3)}; "
                                        f"see {home / 'log' / 'observer.log'}, fix it, then retry")
        self.log_info(f"started observer {self.env.observer_ip} from {home}: pid {observer_pid(home)}")

    def _wait_until_serving(self, build_version: str) -> None:
        version, _, build = build_version.partition("-")
        wanted = f"{version}_{build}" if build else version
        done, elapsed, seen = self.poll_until("every observer in service and in sync",
                                              lambda: self._probe(wanted), self.env.timings.cluster_ready_wait_s)
        if not done:
            raise OBSERVER_NOT_AVAILABLE(
                f"wait all observer available timeout after {elapsed:.0f} s ({seen}); see "
                f"{self.env.ob_home / 'log' / 'observer.log'}. A retry does not restart the new observer, "
                "it waits again")
        self.log_info(f"every observer ACTIVE, in service and in sync after {elapsed:.1f} s; "
                      f"{self.env.observer_ip} runs {wanted}")

    def _probe(self, wanted_build: str) -> PollResult:
        env = self.env
        not_serving, out_of_sync = servers.not_serving(env), servers.out_of_sync_count(env)
        build = servers.build_by_server(env, env.observer_ip, env.rpc_port) or "no row"
        waiting_on = f"not in service: {', '.join(not_serving)}" if not_serving else "every server in service"
        seen = f"{waiting_on}; {out_of_sync} log stream replica(s) out of sync; {env.observer_ip} build {build}"
        return PollResult(not not_serving and out_of_sync == 0 and build.startswith(wanted_build), seen)


def reinstall_node(route_index: int, agents: list[AgentInfo], zone: str = "") -> Node:
    """A parallel node restarting the observers of ``agents`` (one zone's, or all of them)."""
    params = {ctx.ROUTE_INDEX: route_index, ctx.ZONE: zone, EXECUTE_AGENTS_KEY: [a.to_dict() for a in agents]}
    return Node(ReinstallAndRestartObserverTask(), parallel=True, context=TaskContext(params=params))
