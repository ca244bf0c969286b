"""Installing an unpacked package's ``home/admin/oceanbase`` tree over an observer's home.

As obshell does: entries whose name contains ``obshell`` are skipped (the agent's own files),
directories are merged, each file replaces the old one (removed first, so a binary still
mapped by a dying process is never written in place), symlinks are recreated.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from pyobshell.upgrade.tasks.codes import DIR_FAILED

SKIPPED_NAME_PART = "obshell"
_READ = 1 << 20


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(_READ):
            digest.update(block)
    return digest.hexdigest()


def same_content(first: Path, second: Path) -> bool:
    """Both are regular files with the same bytes."""
    try:
        if not (first.is_file() and second.is_file()) or first.stat().st_size != second.stat().st_size:
            return False
        return _sha256(first) == _sha256(second)
    except OSError:
        return False


def copy_tree_over(source: Path, dest: Path) -> int:
    """Copy ``source`` over ``dest`` (see module doc); returns the number of files and links copied.

    Raises ``Common.IO.Failed`` naming the entry that could not be written."""
    if not source.is_dir():
        raise DIR_FAILED(f"unpacked package home {source} is missing; retry 'Unpack all required packages'")
    copied = 0
    for root, dirs, files in os.walk(source):
        here = Path(root)
        target_dir = dest / here.relative_to(source)
        dirs[:] = [d for d in dirs if SKIPPED_NAME_PART not in d]
        try:
            for name in list(dirs):
                _merge_dir(here / name, target_dir / name, dirs)
            for name in files:
                if SKIPPED_NAME_PART not in name:
                    _replace_file(here / name, target_dir / name)
                    copied += 1
        except OSError as exc:
            raise DIR_FAILED(f"cannot install {exc.filename or target_dir}: {exc.strerror or exc}; "
                             f"fix it and retry") from exc
    return copied


def _merge_dir(source: Path, target: Path, walked: list[str]) -> None:
    if source.is_symlink():  # os.walk lists links to directories as directories
        walked.remove(source.name)
        _replace_file(source, target)
        return
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        target.unlink()
    target.mkdir(mode=0o755, exist_ok=True)


def _replace_file(source: Path, target: Path) -> None:
    if target.is_dir() and not target.is_symlink():
        raise IsADirectoryError(21, "a directory is in the way of a packaged file", str(target))
    if target.exists() or target.is_symlink():
        target.unlink()
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
    else:
        shutil.copyfile(source, target)  # a fresh mtime: tells a restarted observer from an old one
        shutil.copymode(source, target)
