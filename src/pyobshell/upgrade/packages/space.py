"""The one disk-space rule of an upgrade: room on every host for the packages it downloads and
their unpacked trees, with a margin (obshell's 1.1, which it then truncates to 1)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from pyobshell.upgrade.packages.schema import StoredPackage

DISK_MARGIN = 1.1


def space_needed(packages: Iterable[StoredPackage], margin: float = DISK_MARGIN) -> int:
    """Bytes needed for ``packages``: each RPM file plus its installed size, times the margin."""
    return int(sum(package.file_size + package.size for package in packages) * margin)


def nearest_existing(path: Path) -> Path:
    """``path`` or the nearest of its parents that exists (where a directory would be made)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(nearest_existing(path)).free
