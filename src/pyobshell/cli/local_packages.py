"""The OceanBase RPMs in a local directory: which one is the target, which ones the route
needs, and which of those the cluster does not have yet.

Each file is read and verified by :func:`pyobshell.upgrade.packages.inspector.inspect_rpm`
(headers, digests, payload), so a broken file is reported here, not after an upload.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyobshell.wire.package import PackageInfo
from pyobshell.cli.output import CommandFailed
from pyobshell.upgrade.packages.inspector import PackageError, inspect_rpm
from pyobshell.upgrade.route import UPGRADE_PACKAGE_NAMES
from pyobshell.versions import Release, Version

OB_PACKAGE_NAMES = tuple(name for names in UPGRADE_PACKAGE_NAMES.values() for name in names)
# The package of each edition that carries oceanbase_upgrade_dep.yml (the route).
ROUTE_PACKAGE_NAMES = tuple(names[0] for names in UPGRADE_PACKAGE_NAMES.values())


@dataclass(frozen=True)
class LocalPackage:
    path: Path
    name: str
    version: str
    release: str  # BUILD.DIST, as in the RPM header
    arch: str
    file_size: int

    @property
    def build_version(self) -> Version:
        return Version.parse(self.version).with_build(Release.parse(self.release).build)

    @property
    def distribution(self) -> str:
        return Release.parse(self.release).distribution

    @property
    def key(self) -> tuple[str, str, str, str]:
        return self.name, self.version, self.release, self.arch


@dataclass(frozen=True)
class Scan:
    packages: tuple[LocalPackage, ...]
    refused: tuple[str, ...]  # one line per file that is not a usable OceanBase RPM


def scan_directory(directory: Path) -> Scan:
    """Every ``*.rpm`` in ``directory`` (not recursive), inspected."""
    if not directory.is_dir():
        raise CommandFailed(f"package directory {directory} does not exist or is not a directory")
    packages, refused = [], []
    for path in sorted(directory.glob("*.rpm")):
        if not path.is_file():
            continue
        try:
            info = inspect_rpm(path, allowed_names=OB_PACKAGE_NAMES)
        except PackageError as error:
            refused.append(error.message)
            continue
        packages.append(LocalPackage(path, info.name, info.version, info.release, info.arch, info.file_size))
    return Scan(tuple(packages), tuple(refused))


def choose_target(packages: Sequence[LocalPackage], version: Version, release: str | None,
                  directory: Path) -> LocalPackage:
    """The route package (``oceanbase-ce`` …) of the target: ``version`` (its build, if given),
    ``release`` if given, else the highest build found."""
    wanted_release = str(Release.parse(release)) if release else None
    candidates = [
        p for p in packages
        if p.name in ROUTE_PACKAGE_NAMES and p.version == version.number_string
        and (version.build is None or p.build_version.build == version.build)
        and (wanted_release is None or str(Release.parse(p.release)) == wanted_release)
    ]
    if not candidates:
        what = f"{version}" + (f" release {wanted_release}" if wanted_release else "")
        found = ", ".join(sorted(p.path.name for p in packages if p.name in ROUTE_PACKAGE_NAMES)) or "none"
        raise CommandFailed(f"no {'/'.join(ROUTE_PACKAGE_NAMES)} package of version {what} in {directory} "
                            f"(found: {found})")
    return max(candidates, key=lambda p: (p.build_version, p.path.name))


def route_packages(packages: Iterable[LocalPackage], current: Version, target: LocalPackage) -> list[LocalPackage]:
    """What an upgrade from ``current`` to ``target`` may need: every package above the
    current build and up to the target, of the target's distribution."""
    top = target.build_version
    return sorted(
        (p for p in packages if current < p.build_version <= top and p.distribution == target.distribution),
        key=lambda p: (p.build_version, p.name, p.arch),
    )


def not_stored(needed: Iterable[LocalPackage], stored: Iterable[PackageInfo]) -> list[LocalPackage]:
    """The packages the cluster's store lacks (same name, version, release and architecture)."""
    have = {(s.name, s.version, s.release_distribution, s.architecture) for s in stored}
    return [p for p in needed if p.key not in have]
