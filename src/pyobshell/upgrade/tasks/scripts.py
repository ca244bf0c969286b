"""ExecScriptTask: run one of the hop package's upgrade scripts against the local observer.

The script comes from the node params (``scriptFile``, ``upgradeRouteIndex``, ``zone``) and
runs from the hop's package dir (its logs land there), as obshell does, but without a shell
and without the password in any argument: ``<python> script_launcher.py <home>/etc/<script>
-h<ip> -P<port> -uroot [-p@stdin] -t<seconds> [-z<zone>]``, the password on the launcher's stdin.
Its output is streamed into the sub-task log as it is written.
"""

from __future__ import annotations

from pathlib import Path

from pyobshell.engine import Node, TaskContext, register_task_type
from pyobshell.errors import ObshellError
from pyobshell.ob import parameters, servers
from pyobshell.upgrade.tasks import context as ctx
from pyobshell.upgrade.tasks import script_launcher
from pyobshell.upgrade.tasks.base import UpgradeTask
from pyobshell.upgrade.tasks.codes import CONTEXT_INVALID, SCRIPT_FAILED, VERSION_MISMATCH
from pyobshell.upgrade.tasks.commands import CommandResult, CommandTimeout
from pyobshell.upgrade.tasks.script_process import ScriptProcessRecord, ScriptStillRunning, end_previous

LAUNCHER = Path(script_launcher.__file__)
PASSWORD_FROM_STDIN = script_launcher.PLACEHOLDER
PROCESS_RECORDS = "run/scripts"  # under the agent's home: one record per running script step
STREAMED_LINES = 1000  # a script's lines copied into the sub-task log; the rest stay in its own log file

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


class ScriptOutput:
    """Copies a script's output lines into the sub-task log while it runs (bounded), with the
    root password masked should a script ever print it."""

    def __init__(self, task: UpgradeTask, script: str, secret: str = ""):
        self.task, self.script, self.secret, self.count = task, script, secret, 0

    def line(self, text: str) -> None:
        self.count += 1
        if self.secret:
            text = text.replace(self.secret, "******")
        if self.count <= STREAMED_LINES:
            self.task.log_info(f"{self.script}: {text}")
        elif self.count == STREAMED_LINES + 1:
            self.task.log_info(f"{self.script}: (further lines only in the script's own log under its package dir)")


class ExecScriptTask(UpgradeTask):
    """Every step of this type may run again after an interruption (agent restart, RETRY):
    OceanBase writes its upgrade scripts to be re-run after a failure (README, "Resuming
    after an agent restart"); only two copies at once are unsafe, so the previous attempt's
    process is ended first."""

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
        record = ScriptProcessRecord(self.env.home / PROCESS_RECORDS, self.id)
        self._end_previous_attempt(record)
        argv = self._argv(path, zone)
        self.log_info(f"running {script} of hop {index + 1} ({node.build_version}) on {self.env.server}: "
                      f"{' '.join(argv[2:])} (the password on the launcher's stdin)")
        result = self._run(argv, script, zone, package.rpm_dir, record)
        if result.returncode != 0:
            tail = self._masked(result.last_lines(15))
            self.log_error(f"{script} exited with {result.returncode}; its last lines:\n{tail}")
            raise SCRIPT_FAILED(f"execute script '{script}' error (exit {result.returncode}): "
                                f"{self._masked(result.last_lines(1))}. Fix the cause, then retry: the scripts "
                                "are idempotent")
        self.log_info(f"{script} succeeded: {self._masked(result.last_lines(1))}")
        if script == POST:
            self._verify_hop(node.number)

    def _argv(self, path: Path, zone: str) -> list[str]:
        """The launcher, the script and its flags; the password is never among them (the
        launcher reads it from its stdin), so no ``ps`` on this host shows it."""
        env = self.env
        argv = [env.python, str(LAUNCHER), str(path), f"-h{env.observer_ip}", f"-P{env.sql_port}", "-uroot"]
        if env.root_password:
            argv.append(PASSWORD_FROM_STDIN)
        argv.append(f"-t{env.timings.script_timeout_s}")
        if zone:
            argv.append(f"-z{zone}")
        return argv

    def _run(self, argv: list[str], script: str, zone: str, cwd: Path, record: ScriptProcessRecord) -> CommandResult:
        budget = self.env.timings.script_run_timeout_s
        streamed = ScriptOutput(self, script, self.env.root_password)
        try:
            return self.run_command(
                argv, cwd=cwd, timeout_s=budget or None, extra_env={"PYTHONDONTWRITEBYTECODE": "1"},
                stdin_text=f"{self.env.root_password}\n" if self.env.root_password else None,
                on_line=streamed.line, on_start=lambda process: record.save(process.pid, script))
        except CommandTimeout as exc:
            raise SCRIPT_FAILED(self._timeout_message(script, zone, exc)) from None
        finally:
            record.clear()

    def _timeout_message(self, script: str, zone: str, timeout: CommandTimeout) -> str:
        try:
            down = servers.inactive_servers(self.env, [zone] if zone else None)
        except ObshellError as exc:
            down = [f"(could not read DBA_OB_SERVERS: {exc.message})"]
        last = self._masked(timeout.output).rstrip().splitlines()[-1:] or ["no output"]
        where = f"zone {zone}" if zone else "the cluster"
        return (f"{script} on {self.env.server} did not finish within {timeout.seconds:g} s (script_run_timeout_s) "
                f"and was ended; servers of {where} not ACTIVE: {', '.join(down) or 'none'}; its last line: "
                f"{last[0]}. Bring every server of {where} back, then retry")

    def _masked(self, text: str) -> str:
        secret = self.env.root_password
        return text.replace(secret, "******") if secret else text

    def _end_previous_attempt(self, record: ScriptProcessRecord) -> None:
        try:
            what = end_previous(record, self.sleep)
        except ScriptStillRunning as exc:
            raise SCRIPT_FAILED(str(exc)) from None
        if what:
            self.log_warn(f"{what}; running the script again, as RETRY would")

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
    """The ``upgrade_pre.py`` step of DAGs created before it became continuable (obshell flags
    it retry-only); new DAGs run every script as :class:`ExecScriptTask`."""


def script_node(script: str, route_index: int, zone: str = "") -> Node:
    """A serial node running ``script`` of hop ``route_index`` (``zone`` for the zone health check)."""
    if script not in NODE_NAMES:
        raise ValueError(f"unknown upgrade script {script!r}")
    name = ZONE_HEALTH_NAME if zone else NODE_NAMES[script]
    params = {ctx.SCRIPT_FILE: script, ctx.ROUTE_INDEX: route_index, ctx.ZONE: zone}
    return Node(ExecScriptTask(name=name), context=TaskContext(params=params))
