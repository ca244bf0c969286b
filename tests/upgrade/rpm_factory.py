"""Building good and hostile RPMs for the package tests, on top of the simulator's RPM writer."""

from __future__ import annotations

import stat
from pathlib import Path
from types import SimpleNamespace

from pyobshell.sim import rpm_writer
from pyobshell.sim.rpm_writer import RpmFileEntry, RpmPackageSpec

HOME = "./home/admin/oceanbase"
ROUTE_YAML = (Path(__file__).resolve().parent.parent / "data" / "oceanbase_upgrade_dep.at-4c4a07a8.yml").read_text()


def observer_files(route_yaml: str | None = ROUTE_YAML) -> list[RpmFileEntry]:
    files = [
        RpmFileEntry.directory("./home"),
        RpmFileEntry.directory("./home/admin"),
        RpmFileEntry.directory(HOME),
        RpmFileEntry.directory(f"{HOME}/bin"),
        RpmFileEntry.file(f"{HOME}/bin/observer", b"#!/bin/sh\necho observer\n", 0o755),
        RpmFileEntry.file(f"{HOME}/etc/upgrade_pre.py", b"print('pre')\n"),
        RpmFileEntry.file(f"{HOME}/lib/libobserver.so.1", b"\x7fELF" + b"\0" * 5000),
        RpmFileEntry.symlink(f"{HOME}/lib/libobserver.so", "libobserver.so.1"),
        RpmFileEntry.file("./usr/share/doc/oceanbase/README", b"outside the home\n"),
    ]
    if route_yaml is not None:
        files.append(RpmFileEntry.file(f"{HOME}/etc/oceanbase_upgrade_dep.yml", route_yaml.encode()))
    return files


def spec(files: list[RpmFileEntry] | None = None, **overrides) -> RpmPackageSpec:
    values = dict(name="oceanbase-ce", version="4.2.1.1", release="101000062023110109.el7",
                  compressor="xz", buildtime=1_700_000_000)
    values.update(overrides)
    return RpmPackageSpec(files=observer_files() if files is None else files, **values)


def write(tmp_path: Path, package: RpmPackageSpec, name: str = "package.rpm") -> Path:
    return rpm_writer.write_rpm(package, tmp_path / name)


def special_entry(name: str, file_type: int) -> RpmFileEntry:
    """An entry of a type the writer's EntryKind does not offer (FIFO, device...)."""
    return RpmFileEntry(name=name, kind=SimpleNamespace(value=file_type), mode=0o644)  # type: ignore[arg-type]


def newc_record(name: str, mode: int, content: bytes = b"", inode: int = 1, nlink: int = 1) -> bytes:
    encoded = name.encode() + b"\0"
    fields = (inode, mode, 0, 0, nlink, 0, len(content), 0, 0, 0, 0, len(encoded), 0)
    head = b"070701" + b"".join(b"%08X" % f for f in fields) + encoded
    head += b"\0" * (-len(head) % 4)
    return head + content + b"\0" * (-len(content) % 4)


def newc_trailer() -> bytes:
    return newc_record("TRAILER!!!", 0, inode=0)


def raw_rpm(tmp_path: Path, package: RpmPackageSpec, payload: bytes, *, header_payload: bytes | None = None,
            header_edit=None, archive_size: int | None = None, name: str = "raw.rpm") -> Path:
    """An RPM with a hand-made (already compressed) payload and a consistent signature.

    ``header_payload`` is the payload the main header's digest describes (default: ``payload``);
    ``header_edit`` may rewrite the main header bytes before they are signed."""
    header = rpm_writer.main_header(package, package.buildtime, payload if header_payload is None else header_payload)
    if header_edit is not None:
        header = header_edit(header)
    signature = rpm_writer.signature_header(header, payload, archive_size or len(payload))
    path = tmp_path / name
    path.write_bytes(rpm_writer.lead(package) + signature + header + payload)
    return path


def compressed_cpio(records: bytes, compressor: str = "xz") -> bytes:
    return rpm_writer.compress(records, compressor)  # type: ignore[arg-type]


FIFO = stat.S_IFIFO
CHAR_DEVICE = stat.S_IFCHR


def signed_rpm(tmp_path: Path, package: RpmPackageSpec, signature: "tuple[int, bytes] | Path | None", *,
               header_edit=None, files_after_signing: list[RpmFileEntry] | None = None,
               name: str = "signed.rpm") -> Path:
    """An RPM whose header is signed (``signature``: a secret key file, or a ready tag and packet),
    then changed as an attacker would: the header rewritten by ``header_edit`` and/or the payload
    replaced by ``files_after_signing`` after signing, with the signature header's unsigned
    digests (MD5, SHA-1, SHA-256, sizes) made to match the changed file again."""
    from pyobshell.sim.package_signing import HeaderSigner

    archive = rpm_writer.build_cpio(package.files, package.buildtime)
    payload = rpm_writer.compress(archive, package.compressor)
    header = rpm_writer.main_header(package, package.buildtime, payload)
    if isinstance(signature, Path):
        signature = HeaderSigner.from_file(signature)(header)
    if header_edit is not None:
        header = header_edit(header)
    if files_after_signing is not None:
        archive = rpm_writer.build_cpio(files_after_signing, package.buildtime)
        payload = rpm_writer.compress(archive, package.compressor)
    path = tmp_path / name
    path.write_bytes(rpm_writer.lead(package) + rpm_writer.signature_header(header, payload, len(archive), signature)
                     + header + payload)
    return path
