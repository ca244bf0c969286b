"""Check the python environment: the interpreter that will run the packages' upgrade scripts
starts, and imports every module the scripts need (reference §7)."""

from __future__ import annotations

from pyobshell.engine import register_task_type
from pyobshell.upgrade.tasks.base import CommandTimeout, UpgradeTask
from pyobshell.upgrade.tasks.codes import WITHOUT_MODULE, WITHOUT_PYTHON

SCRIPT_MODULES = ("mysql.connector",)
# One interpreter start checks everything: its version, then each module ("ok NAME" or
# "missing NAME: why" per line).
PROBE = (
    "import importlib, sys\n"
    "print('%d.%d.%d' % sys.version_info[:3])\n"
    "for name in sys.argv[1:]:\n"
    "    try:\n"
    "        importlib.import_module(name)\n"
    "        print('ok ' + name)\n"
    "    except Exception as exc:\n"
    "        print('missing %s: %s' % (name, exc))\n"
)


@register_task_type
class CheckPythonEnvTask(UpgradeTask):
    name = "Check the python environment"
    can_continue = can_rollback = can_retry = can_pass = can_cancel = True

    def execute(self) -> None:
        if self.another_agent_does_it():
            return
        python, timeout = self.env.python, self.env.timings.command_timeout_s
        try:
            result = self.run_command([python, "-c", PROBE, *SCRIPT_MODULES], timeout_s=timeout)
        except (OSError, CommandTimeout) as exc:
            raise WITHOUT_PYTHON(f"cannot run the upgrade scripts' interpreter {python}: {exc}; install Python "
                                 "or point the agent at one") from exc
        lines = result.output.strip().splitlines()
        if result.returncode != 0 or not lines:
            raise WITHOUT_PYTHON(f"{python} exits with {result.returncode}: {result.last_lines(3)}")
        self.log_info(f"upgrade scripts will run with {python} (Python {lines[0].strip()})")
        for module in SCRIPT_MODULES:
            if f"ok {module}" not in lines:
                why = next((line for line in lines if line.startswith(f"missing {module}:")), result.last_lines(1))
                raise WITHOUT_MODULE(f"{python} cannot import {module} ({why}); install it, "
                                     f"e.g. '{python} -m pip install mysql-connector-python', then retry")
            self.log_info(f"{python} imports {module}")

    def rollback(self) -> None:
        """Nothing was changed."""
