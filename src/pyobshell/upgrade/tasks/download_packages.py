"""Download all required packages: every hop's packages for this host's architecture, from
the cluster's package store into ``<task dir>/<arch>/<hop version>/<name>.rpm``.

The store verifies each download (size and SHA-256) before it is renamed into place, so a
retried or continued run simply downloads again over the old file.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyobshell.engine import register_task_type
from pyobshell.upgrade.packages.schema import StoredPackage
from pyobshell.upgrade.packages.store import PackageStore
from pyobshell.upgrade.packages.space import free_bytes, space_needed
from pyobshell.upgrade.route import RouteStep
from pyobshell.upgrade.tasks import context as ctx
from pyobshell.upgrade.tasks.base import UpgradeTask, remove_tree
from pyobshell.upgrade.tasks.codes import DISK_SPACE_NOT_ENOUGH, PACKAGE_NOT_FOUND


@dataclass(frozen=True)
class PlannedDownload:
    node: RouteStep
    package: StoredPackage
    file: ctx.PackageFile


def find_package(store: PackageStore, name: str, node: RouteStep, arch: str,
                 distribution: str | None) -> StoredPackage | None:
    """The exact build for a hop that names one; else the newest build that is not deprecated."""
    if node.has_build:
        return store.find(name, node.number, node.release, arch, distribution=distribution)
    candidates = [p for p in store.list()
                  if (p.name, p.version, p.architecture) == (name, node.number, arch)
                  and (distribution is None or p.distribution == distribution)
                  and p.release not in node.deprecated_builds]
    return max(candidates, key=lambda p: (p.build_number, p.pkg_id), default=None)


def required_bytes(downloads: list[PlannedDownload]) -> int:
    return space_needed(d.package for d in downloads)


@register_task_type
class DownloadPackagesTask(UpgradeTask):
    name = "Download all required packages"
    can_continue = can_rollback = can_retry = can_pass = can_cancel = True

    def execute(self) -> None:
        if self.another_agent_does_it():
            return
        planned = self._plan()
        self._check_space(planned)
        store = self.package_store()
        for item in planned:
            self.log_info(f"downloading {item.package.rpm_file_name} ({item.package.file_size} bytes) "
                          f"to {item.file.rpm_path}")
            store.download(item.package.pkg_id, item.file.rpm_path)
            self.set_local_data(ctx.package_key(item.file.name, item.node), item.file.to_dict())
        self.log_info(f"downloaded {len(planned)} packages for {len(ctx.route(self.context))} hop(s) "
                      f"into {self.task_dir() / self.env.arch}")

    def rollback(self) -> None:
        if self.real_execute_agent() != self.executer_agent:
            return
        arch_dir = self.task_dir() / self.env.arch
        if remove_tree(arch_dir):
            self.log_info(f"removed downloaded packages in {arch_dir}")

    def _plan(self) -> list[PlannedDownload]:
        store, arch = self.package_store(), self.env.arch
        distribution = self.context.get_param(ctx.DISTRIBUTION) or None
        planned, missing = [], []
        for node in ctx.route(self.context):
            rpm_dir = self.rpm_dir(node)
            for name in ctx.package_names(self.context):
                package = find_package(store, name, node, arch, distribution)
                if package is None:
                    build = node.release if node.has_build else "<newest>"
                    missing.append(f"{name}-{node.number}-{build}.{distribution or '*'}.{arch}.rpm")
                    continue
                file = ctx.PackageFile(name, str(package.build_version), rpm_dir, package.sha256)
                planned.append(PlannedDownload(node, package, file))
        if missing:
            raise PACKAGE_NOT_FOUND(f"packages not uploaded for this host's architecture {arch}: "
                                    f"{', '.join(missing)}; upload them, then retry")
        return planned

    def _check_space(self, planned: list[PlannedDownload]) -> None:
        task_dir = self.task_dir()
        needed = required_bytes(planned)
        free = free_bytes(task_dir)
        if free < needed:
            raise DISK_SPACE_NOT_ENOUGH(f"{task_dir} has {free} bytes free; the packages and their unpacked "
                                        f"files need {needed}. Free some space, then retry")
        self.log_info(f"{task_dir}: {free} bytes free, {needed} needed")
