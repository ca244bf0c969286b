"""Unpack all required packages: each hop's RPMs into ``<rpm dir>/home/admin/oceanbase``,
then a smoke test — the unpacked ``bin/observer -V`` must report the hop's version."""

from __future__ import annotations

import re

from pyobshell.engine import register_task_type
from pyobshell.upgrade.packages.inspector import unpack_rpm
from pyobshell.upgrade.route import RouteStep
from pyobshell.upgrade.tasks import context as ctx
from pyobshell.upgrade.tasks.base import CommandTimeout, UpgradeTask, remove_tree
from pyobshell.upgrade.tasks.codes import PACKAGE_SMOKE_TEST_FAILED

_VERSION_LINE = re.compile(r"\(OceanBase[\w ]*?\s(\d+\.\d+\.\d+\.\d+)\)")
_REVISION_LINE = re.compile(r"REVISION:\s*(\d+)-")


def reported_build(output: str) -> tuple[str | None, str | None]:
    """(version, build number) that ``observer -V`` printed, None where it printed none."""
    version = _VERSION_LINE.search(output)
    revision = _REVISION_LINE.search(output)
    return (version.group(1) if version else None, revision.group(1) if revision else None)


@register_task_type
class UnpackPackagesTask(UpgradeTask):
    name = "Unpack all required packages"
    can_continue = can_rollback = can_retry = can_pass = can_cancel = True

    def execute(self) -> None:
        if self.another_agent_does_it():
            return
        for node in ctx.route(self.context):
            files = [self.package_file(name, node) for name in ctx.package_names(self.context)]
            remove_tree(files[0].extract_path)  # a retry starts from a clean tree
            for file in files:
                written = unpack_rpm(file.rpm_path, file.home_path)
                self.log_info(f"unpacked {len(written)} entries of {file.rpm_path.name} into {file.home_path}")
            for file in files:
                if file.name in ctx.OBSERVER_PACKAGES:
                    self.smoke_test(file, node)

    def smoke_test(self, file: ctx.PackageFile, node: RouteStep) -> None:
        home = file.home_path
        observer = home / "bin" / "observer"
        try:
            observer.chmod(0o755)
            result = self.run_command([str(observer), "-V"], cwd=home, timeout_s=self.env.timings.command_timeout_s,
                                      extra_env={"LD_LIBRARY_PATH": str(home / "lib")})
        except (OSError, CommandTimeout) as exc:
            raise PACKAGE_SMOKE_TEST_FAILED(f"cannot run {observer} -V: {exc}") from exc
        version, build = reported_build(result.output)
        expected_build = file.build_version.partition("-")[2] or None
        if result.returncode != 0 or version != node.number or (expected_build and build != expected_build):
            raise PACKAGE_SMOKE_TEST_FAILED(
                f"{observer} -V exits with {result.returncode} and reports version {version} build {build}, "
                f"expected {node.number} build {expected_build}; the package is unusable on this host: "
                f"{result.last_lines(3)}")
        self.log_info(f"{observer} -V reports {version} build {build}")

    def rollback(self) -> None:
        if self.real_execute_agent() != self.executer_agent:
            return
        for node in ctx.route(self.context):
            raw = self.context.get_agent_data(self.executer_agent, node.build_version)
            if raw and remove_tree(ctx.PackageFile.from_dict(raw).extract_path):
                self.log_info(f"removed unpacked files of {node.build_version}")
