"""The upgrade's working directory on each host: ``<upgradeDir>/rpm-<taskTime>``.

Created first (and recorded in the agent's local data), removed by the last node. Unlike
obshell, a rollback removes only what the task created: an ``upgradeDir`` that existed
before (say ``/data``) is left alone.
"""

from __future__ import annotations

import os
from pathlib import Path

from pyobshell.engine import register_task_type
from pyobshell.upgrade.tasks import context as ctx
from pyobshell.upgrade.tasks.base import UpgradeTask, remove_tree
from pyobshell.upgrade.tasks.codes import DIR_FAILED, DIR_NOT_EMPTY

CREATED_UPGRADE_DIR = "upgradeDirCreated"  # local data: the topmost directory this task created


def _missing_ancestors(path: Path) -> list[Path]:
    """``path`` and its parents that do not exist yet, outermost first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return list(reversed(missing))


@register_task_type
class CreateUpgradeDirTask(UpgradeTask):
    name = "Create upgrade dir"
    can_retry = can_continue = can_rollback = can_pass = can_cancel = True

    def execute(self) -> None:
        if self.another_agent_does_it():
            return
        upgrade_dir = self.upgrade_dir()
        task_dir = upgrade_dir / f"rpm-{ctx.task_time(self.context)}"
        ours = self.get_local_data(ctx.LOCAL_TASK_DIR) == str(task_dir)
        if task_dir.is_dir() and any(task_dir.iterdir()) and not ours:
            raise DIR_NOT_EMPTY(f"upgrade task dir {task_dir} exists and is not empty; empty or remove it "
                                "(or choose another upgradeDir), then retry")
        created = _missing_ancestors(task_dir)
        try:
            task_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        except OSError as exc:
            raise DIR_FAILED(f"cannot create {task_dir}: {exc.strerror or exc}; check the permissions of "
                             f"{upgrade_dir}") from exc
        if not os.access(task_dir, os.W_OK | os.X_OK):
            raise DIR_FAILED(f"{task_dir} is not writable by this agent; fix its permissions and retry")
        if created and not self.get_local_data(CREATED_UPGRADE_DIR):
            self.set_local_data(CREATED_UPGRADE_DIR, str(created[0]))
        self.set_local_data(ctx.LOCAL_UPGRADE_DIR, str(upgrade_dir))
        self.set_local_data(ctx.LOCAL_TASK_DIR, str(task_dir))
        self.log_info(f"created upgrade task dir {task_dir}" if created else f"using empty upgrade task dir {task_dir}")

    def rollback(self) -> None:
        if self.real_execute_agent() != self.executer_agent:
            return
        recorded = self.get_local_data(ctx.LOCAL_TASK_DIR)
        if not recorded:
            self.log_info("no upgrade task dir was recorded: nothing to remove")
            return
        # Everything this task created, up to the topmost new directory; never more.
        created = self.get_local_data(CREATED_UPGRADE_DIR)
        if created:
            if remove_tree(Path(created)):
                self.log_info(f"removed {created}")
            return
        task_dir = Path(recorded)  # it existed (empty) before: empty it again, keep it
        for child in task_dir.iterdir() if task_dir.is_dir() else ():
            remove_tree(child)
        self.log_info(f"emptied {task_dir}, which existed before the upgrade")


@register_task_type
class RemoveUpgradeCheckDirTask(UpgradeTask):
    name = "Remove upgrade check task dir"
    can_retry = can_continue = can_pass = can_cancel = True

    def execute(self) -> None:
        if self.another_agent_does_it():
            return
        task_dir = self.task_dir()
        if remove_tree(task_dir):
            self.log_info(f"removed upgrade task dir {task_dir} (packages, unpacked trees, script logs)")
        else:
            self.log_info(f"upgrade task dir {task_dir} is already gone")
