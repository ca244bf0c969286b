"""Check all required packages: re-inspect every downloaded RPM on disk (digests, name,
version, required files) before anything is unpacked from it."""

from __future__ import annotations

from pyobshell.engine import register_task_type
from pyobshell.upgrade.packages.inspector import inspect_rpm
from pyobshell.upgrade.packages.store import REQUIRED_FILES
from pyobshell.upgrade.route import RouteStep
from pyobshell.upgrade.tasks import context as ctx
from pyobshell.upgrade.tasks.base import UpgradeTask
from pyobshell.upgrade.tasks.codes import PACKAGE_MISMATCH


@register_task_type
class CheckPackagesTask(UpgradeTask):
    name = "Check all required packages"
    can_continue = can_rollback = can_retry = can_pass = can_cancel = True

    def execute(self) -> None:
        if self.another_agent_does_it():
            return
        checked = 0
        for node in ctx.route(self.context):
            for name in ctx.package_names(self.context):
                self.check(self.package_file(name, node), node)
                checked += 1
        self.log_info(f"all {checked} downloaded packages verified")

    def check(self, file: ctx.PackageFile, node: RouteStep) -> None:
        info = inspect_rpm(file.rpm_path, file.sha256 or None)
        label = f"{file.rpm_path}"
        if info.name != file.name or info.version != node.number:
            raise PACKAGE_MISMATCH(f"{label} is {info.name}-{info.version}, expected {file.name}-{node.number}; "
                                   "delete the wrong package from the store, upload the right one, then retry")
        if node.has_build and info.build_number != node.release:
            raise PACKAGE_MISMATCH(f"{label} has build {info.build_number}, the route needs {node.release}")
        if info.arch != self.env.arch:
            raise PACKAGE_MISMATCH(f"{label} is built for {info.arch}, this host is {self.env.arch}")
        missing = [path for path in REQUIRED_FILES.get(info.name, ()) if not info.has_file(path)]
        if missing:
            raise PACKAGE_MISMATCH(f"{label} lacks {', '.join(missing)}")
        self.log_info(f"{label}: {info.name}-{info.version}-{info.release}.{info.arch}, sha256 {info.sha256[:12]}…, "
                      f"{len(info.entries)} entries")

    def rollback(self) -> None:
        """Nothing was changed."""
