"""Small but complete OceanBase RPMs for the API tests (the simulator's RPM writer)."""

from __future__ import annotations

from pathlib import Path

from pyobshell.sim.package_signing import HeaderSigner
from pyobshell.sim.rpm_writer import RpmFileEntry, RpmPackageSpec, write_rpm

from tests.upgrade.rpm_factory import HOME, ROUTE_YAML, observer_files

RELEASE = "101000062023110109.el7"


def ce_files(route_yaml: str | None = ROUTE_YAML) -> list[RpmFileEntry]:
    return observer_files(route_yaml) + [RpmFileEntry.file(f"{HOME}/bin/obshell", b"#!/bin/sh\necho obshell\n", 0o755)]


def libs_files() -> list[RpmFileEntry]:
    return [RpmFileEntry.directory(d) for d in ("./home", "./home/admin", HOME, f"{HOME}/lib")] + [
        RpmFileEntry.file(f"{HOME}/lib/libaio.so.1", b"\x7fELF" + b"\1" * 3000)]


def build(directory: Path, name: str = "oceanbase-ce", version: str = "4.2.1.1", release: str = RELEASE,
          *, files: list[RpmFileEntry] | None = None, arch: str = "x86_64", route_yaml: str | None = ROUTE_YAML,
          sign_key: Path | None = None) -> Path:
    """``name-version-release.arch.rpm`` in ``directory``; ce packages carry ``route_yaml``;
    ``sign_key`` (a secret key file) signs the header."""
    if files is None:
        files = libs_files() if name.endswith("-libs") else ce_files(route_yaml)
    spec = RpmPackageSpec(name=name, version=version, release=release, arch=arch, files=files,
                          compressor="xz", buildtime=1_700_000_000)
    directory.mkdir(parents=True, exist_ok=True)
    signer = HeaderSigner.from_file(sign_key) if sign_key is not None else None
    return write_rpm(spec, directory / f"{spec.nvra}.rpm", signer)


def build_pair(directory: Path, version: str = "4.2.1.1", release: str = RELEASE, **kwargs) -> tuple[Path, Path]:
    """oceanbase-ce and oceanbase-ce-libs of one version."""
    return (build(directory, "oceanbase-ce", version, release, **kwargs),
            build(directory, "oceanbase-ce-libs", version, release, sign_key=kwargs.get("sign_key")))
