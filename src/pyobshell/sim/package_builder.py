"""Builds the simulated OceanBase packages: ``oceanbase-ce`` and ``oceanbase-ce-libs``.

They are laid out like OceanBase's own RPMs (everything under ``./home/admin/oceanbase``),
so the agent installs and upgrades a simulated observer exactly as it would a real one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pyobshell.sim.observer_binary import render_observer_script
from pyobshell.sim.rpm_writer import Compressor, RpmFileEntry, RpmPackageSpec, write_rpm

PACKAGE_FILES = Path(__file__).parent / "package_files"
DEP_YML_NAME = "oceanbase_upgrade_dep.yml"
OB_HOME = "./home/admin/oceanbase"
ARCH = "x86_64"

_VERSION = re.compile(r"\d+(\.\d+){3}")
_RELEASE = re.compile(r"(?P<build>\d+)\.(?P<dist>[A-Za-z][A-Za-z0-9_]*)")

# A stand-in for the obshell binary real oceanbase-ce packages carry: obshell's package
# check requires the file, and its `version` command reports the build.
_OBSHELL_STUB = """#!/bin/sh
# Placeholder for obshell in a simulated package; pyobshell is the agent here.
case "$1" in
  version|-v|--version) echo "{version}-{build}"; exit 0 ;;
  *) echo "obshell is not part of the simulated package; use pyobshell" >&2; exit 1 ;;
esac
"""

# Small fake shared objects; a symlink pair as in real lib directories.
_LIBS = {
    "libaio.so.1.0.1": b"\x7fELF simulated libaio for OceanBase\n",
    "libmariadb.so.3": b"\x7fELF simulated libmariadb for OceanBase\n",
}
_LIB_LINKS = {"libaio.so.1": "libaio.so.1.0.1"}


@dataclass(frozen=True)
class BuildVersion:
    """A validated ``version`` (``4.2.1.1``) and ``release`` (``<build>.<dist>``)."""

    version: str
    release: str

    @classmethod
    def parse(cls, version: str, release: str) -> "BuildVersion":
        if not _VERSION.fullmatch(version):
            raise ValueError(f"version must be four dot-separated numbers like 4.2.1.1, got {version!r}")
        if not _RELEASE.fullmatch(release):
            raise ValueError(
                f"release must be BUILD.DIST with a numeric build, like 101000062023110109.el7, got {release!r}"
            )
        return cls(version, release)

    @property
    def build(self) -> str:
        return self.release.split(".", 1)[0]


def rpm_file_name(name: str, version: str, release: str) -> str:
    return f"{name}-{version}-{release}.{ARCH}.rpm"


def _directories(*relative: str) -> list[RpmFileEntry]:
    return [RpmFileEntry.directory(f"{OB_HOME}/{path}".rstrip("/")) for path in relative]


def _etc_files(dep_yml: Path | None) -> list[RpmFileEntry]:
    """Every file of package_files/etc (whatever is there now), the route file replaced if asked."""
    etc = PACKAGE_FILES / "etc"
    sources = sorted(p for p in etc.iterdir() if p.is_file() and p.suffix != ".pyc") if etc.is_dir() else []
    files = {p.name: p.read_bytes() for p in sources}
    if dep_yml is not None:
        files[DEP_YML_NAME] = dep_yml.read_bytes()
    return [RpmFileEntry.file(f"{OB_HOME}/etc/{name}", data) for name, data in sorted(files.items())]


def oceanbase_ce_spec(build: BuildVersion, dep_yml: Path | None, interpreter: str | None) -> RpmPackageSpec:
    observer = render_observer_script(build.version, build.release, interpreter).encode()
    obshell = _OBSHELL_STUB.format(version=build.version, build=build.build).encode()
    return RpmPackageSpec(
        name="oceanbase-ce",
        version=build.version,
        release=build.release,
        arch=ARCH,
        summary="OceanBase CE (simulated by pyobshell)",
        description="A simulated OceanBase Database Community Edition server for tests and demos.",
        files=_directories("", "bin", "etc")
        + [
            RpmFileEntry.file(f"{OB_HOME}/bin/observer", observer, mode=0o755),
            RpmFileEntry.file(f"{OB_HOME}/bin/obshell", obshell, mode=0o755),
        ]
        + _etc_files(dep_yml),
    )


def oceanbase_ce_libs_spec(build: BuildVersion) -> RpmPackageSpec:
    return RpmPackageSpec(
        name="oceanbase-ce-libs",
        version=build.version,
        release=build.release,
        arch=ARCH,
        summary="Libraries for OceanBase CE (simulated by pyobshell)",
        description="Fake shared libraries that simulated observers pretend to load.",
        files=_directories("", "lib")
        + [RpmFileEntry.file(f"{OB_HOME}/lib/{name}", data, mode=0o755) for name, data in _LIBS.items()]
        + [RpmFileEntry.symlink(f"{OB_HOME}/lib/{name}", target) for name, target in _LIB_LINKS.items()],
    )


def build_packages(
    version: str,
    release: str,
    out_dir: Path,
    dep_yml: Path | None = None,
    interpreter: str | None = None,
    compressor: Compressor = "xz",
    sign_key: Path | None = None,
) -> list[Path]:
    """Write ``oceanbase-ce-V-R.x86_64.rpm`` and ``oceanbase-ce-libs-V-R.x86_64.rpm`` into
    ``out_dir`` (created if missing) and return their paths.

    ``dep_yml`` replaces the packaged ``etc/oceanbase_upgrade_dep.yml``; ``interpreter`` is
    the Python the simulated ``bin/observer`` runs with (default: this one). The payload
    is xz-compressed by default, like OceanBase's RPMs (obshell refuses anything else).
    ``sign_key``, an OpenPGP secret key file, signs each package's header as ``rpmsign`` does.
    Raises ValueError for a bad version, release, route file, interpreter or signing key.
    """
    build = BuildVersion.parse(version, release)
    signer = None
    if sign_key is not None:
        from pyobshell.sim.package_signing import HeaderSigner

        signer = HeaderSigner.from_file(sign_key)
    if dep_yml is not None and not Path(dep_yml).is_file():
        raise ValueError(f"route file {str(dep_yml)!r} does not exist or is not a file")
    ce = oceanbase_ce_spec(build, Path(dep_yml) if dep_yml else None, interpreter)
    libs = oceanbase_ce_libs_spec(build)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in (ce, libs):
        spec.compressor = compressor
        written.append(write_rpm(spec, out_dir / rpm_file_name(spec.name, version, release), signer))
    return written
