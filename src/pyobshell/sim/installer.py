"""Install simulated OceanBase RPMs into an observer home, as an operator would by hand."""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

import rpmfile

OB_PREFIX = PurePosixPath("home/admin/oceanbase")


class InstallError(Exception):
    """A package cannot be installed into the home (bad entry, unreadable file)."""


def _relative(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name[2:] if name.startswith("./") else name)
    if path.is_absolute() or ".." in path.parts:
        raise InstallError(f"package entry {name!r} escapes the package root")
    try:
        return path.relative_to(OB_PREFIX)
    except ValueError:
        return None


def install_rpm(rpm_path: Path, home: Path) -> list[Path]:
    """Unpack the ``home/admin/oceanbase`` tree of one RPM over ``home``; return files written."""
    written: list[Path] = []
    try:
        with rpmfile.open(rpm_path) as rpm:
            for member in rpm.getmembers():
                relative = _relative(member.name)
                if relative is None or str(relative) == ".":
                    continue
                target = home / relative
                mode = member.mode
                if stat.S_ISDIR(mode):
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                data = rpm.extractfile(member).read()
                if target.is_symlink() or target.exists():
                    target.unlink()  # replace, never write through an old file or link
                if stat.S_ISLNK(mode):
                    link = data.decode()
                    if os.path.isabs(link) or ".." in PurePosixPath(link).parts:
                        raise InstallError(f"symlink {member.name!r} points outside the home")
                    target.symlink_to(link)
                else:
                    target.write_bytes(data)
                    target.chmod(stat.S_IMODE(mode) or 0o644)
                written.append(target)
    except (OSError, KeyError, ValueError, EOFError) as error:
        raise InstallError(f"cannot install {rpm_path.name}: {error}") from None
    return written


def install_packages(rpm_paths: list[Path], home: Path) -> None:
    for directory in ("bin", "etc", "lib", "log", "run", "store"):
        (home / directory).mkdir(parents=True, exist_ok=True)
    for path in rpm_paths:
        install_rpm(path, home)
