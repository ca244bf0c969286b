"""ExecScriptTask: run one of the hop package's upgrade scripts against the local observer.

The script comes from the node params (``scriptFile``, ``upgradeRouteIndex``, ``zone``) and
runs from the hop's package dir (its logs land there), as obshell does, but without a shell:
``<python> <home>/etc/<script> -h<ip> -P<port> -uroot [-p<password>] -t<seconds> [-z<zone>]``.
"""

from __future__ import annotations

from pyobshell.engine import Node, TaskContext, register_task_type
from pyobshell.ob import parameters, servers
from pyobshell.upgrade.tasks import context as ctx
from pyobshell.upgrade.tasks.base import UpgradeTask
from pyobshell.upgrade.tasks.codes import CONTEXT_INVALID, SCRIPT_FAILED, VERSION_MISMATCH

CHECKER = "etc/upgrade_checker.py"
PRE = "etc/upgrade_pre.py"
HEALTH_CHECKER = "etc/upgrade_health_checker.py"
POST = "etc/upgrade_post.py"
NODE_NAMES = {
    CHECKER: "Execute upgrade checker script",
    PRE: "Execute upgrade pre script",
    HEALTH_CHECKER: "Execute upgrade health checker script",
    POST: "Execute upgrade post script",
}
ZONE_HEALTH_NAME = "Execute upgrade zone health checker script"


class ExecScriptTask(UpgradeTask):
    name = "Execute upgrade script"
    can_retry = can_continue = True

    def execute(self) -> None:
        script, zone = self._script(), ctx.zone_param(self.context)
        index, node = ctx.hop(self.context)
        names = ctx.package_names(self.context)
        package = self.package_file(names[0], node, self.real_execute_agent())
        path = package.home_path / script
        if not path.is_file():
            raise SCRIPT_FAILED(f"{path} does not exist; was 'Unpack all required packages' rolled back? "
                                "Re-run the upgrade from the start")
        env = self.env
        argv = [env.python, str(path), f"-h{env.observer_ip}", f"-P{env.sql_port}", "-uroot"]
        if env.root_password:
            argv.append(f"-p{env.root_password}")
        argv.append(f"-t{env.timings.script_timeout_s}")
        if zone:
            argv.append(f"-z{zone}")
        shown = " ".join("-p******" if arg.startswith("-p") else arg for arg in argv)
        self.log_info(f"running {script} of hop {index + 1} ({node.build_version}): {shown}")
        result = self.run_command(argv, cwd=package.rpm_dir,
                                  extra_env={"PYTHONDONTWRITEBYTECODE": "1"})
        if result.returncode != 0:
            tail = result.last_lines(15)
            self.log_error(f"{script} exited with {result.returncode}; its last lines:\n{tail}")
            raise SCRIPT_FAILED(f"execute script '{script}' error (exit {result.returncode}): "
                                f"{result.last_lines(1)}. Fix the cause, then retry: the scripts are idempotent")
        self.log_info(f"{script} succeeded: {result.last_lines(1)}")
        if script == POST:
            self._verify_hop(node.number)

    def _verify_hop(self, version: str) -> None:
        """After the post script every observer must run the hop's build and the cluster's
        min_observer_version must be the hop's version; anything else fails the node."""
        running = servers.builds(self.env)
        behind = [f"{ip} ({found})" for ip, found in running.items() if found != version]
        minimum = parameters.distinct_values(self.env, "min_observer_version")
        if behind or minimum != [version]:
            raise VERSION_MISMATCH(
                f"after the post script of {version}: servers not at {version}: {', '.join(behind) or 'none'}; "
                f"min_observer_version is {', '.join(minimum) or 'unknown'}. Check the observers' logs, then retry")
        self.log_info(f"verified: {len(running)} servers run {version} and min_observer_version is {version}")

    def _script(self) -> str:
        script = self.context.require_param(ctx.SCRIPT_FILE)
        if script not in NODE_NAMES:
            raise CONTEXT_INVALID(f"{ctx.SCRIPT_FILE} {script!r} is not one of {', '.join(NODE_NAMES)}")
        return str(script)


register_task_type(ExecScriptTask)


@register_task_type
class ExecPreScriptTask(ExecScriptTask):
    """The same task for ``upgrade_pre.py``, whose node obshell flags retry-only: after an agent
    restart in the middle of it, an operator decides (retry) instead of a silent re-run."""

    can_continue = False


def script_node(script: str, route_index: int, zone: str = "") -> Node:
    """A serial node running ``script`` of hop ``route_index`` (``zone`` for the zone health check)."""
    if script not in NODE_NAMES:
        raise ValueError(f"unknown upgrade script {script!r}")
    name = ZONE_HEALTH_NAME if zone else NODE_NAMES[script]
    params = {ctx.SCRIPT_FILE: script, ctx.ROUTE_INDEX: route_index, ctx.ZONE: zone}
    task_type = ExecPreScriptTask if script == PRE else ExecScriptTask
    return Node(task_type(name=name), context=TaskContext(params=params))
