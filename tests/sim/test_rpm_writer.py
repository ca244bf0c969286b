"""The RPM writer: read back with rpmfile, and with the real rpm tools when installed."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
import rpmfile

from pyobshell.sim.rpm_writer import EntryKind, RpmFileEntry, RpmPackageSpec, build_rpm, write_rpm

HOME = "./home/admin/oceanbase"
SAFE_ENTRIES = [
    RpmFileEntry.directory(HOME),
    RpmFileEntry.directory(f"{HOME}/bin"),
    RpmFileEntry.file(f"{HOME}/bin/observer", b"#!/bin/sh\necho observer\n", mode=0o755),
    RpmFileEntry.file(f"{HOME}/etc/secret.conf", b"k=v\n", mode=0o600),
    RpmFileEntry.file(f"{HOME}/etc/empty", b""),
    RpmFileEntry.file(f"{HOME}/lib/libblob.so.1", bytes(range(256)) * 9 + b"\x00tail", mode=0o755),
    RpmFileEntry.symlink(f"{HOME}/lib/libblob.so", "libblob.so.1"),
]
HOSTILE_ENTRIES = [
    RpmFileEntry.file("./../../escape.txt", b"outside\n"),
    RpmFileEntry.file("/etc/absolute.conf", b"absolute\n"),
    RpmFileEntry.symlink(f"{HOME}/bin/passwd", "/etc/passwd"),
    RpmFileEntry.symlink(f"{HOME}/up", "../../../.."),
]


def _spec(files: list[RpmFileEntry], compressor: str = "gzip") -> RpmPackageSpec:
    return RpmPackageSpec(
        name="oceanbase-ce",
        version="4.2.1.1",
        release="101000062023110109.el7",
        summary="simulated OceanBase",
        buildtime=1_700_000_000,
        compressor=compressor,  # type: ignore[arg-type]
        files=files,
    )


@pytest.fixture(params=["gzip", "xz"])
def compressor(request: pytest.FixtureRequest) -> str:
    return request.param


def test_rpmfile_reads_headers(tmp_path: Path, compressor: str) -> None:
    path = write_rpm(_spec(SAFE_ENTRIES, compressor), tmp_path / "p.rpm")
    with rpmfile.open(path) as rpm:
        h = rpm.headers
        assert (h["name"], h["version"], h["release"], h["arch"]) == (
            b"oceanbase-ce",
            b"4.2.1.1",
            b"101000062023110109.el7",
            b"x86_64",
        )
        assert h["archive_format"] == b"cpio"
        assert h["archive_compression"] == compressor.encode()
        paths = [d + b for d, b in zip(_dirs_of(h), h["basenames"])]
        assert paths == [e.installed_path.encode() for e in SAFE_ENTRIES]
        assert list(h["filemodes"]) == [e.st_mode for e in SAFE_ENTRIES]
        assert h["filelinktos"][-1] == b"libblob.so.1"
        observer_digest = h["filemd5s"][2]  # tag 1035 holds SHA-256 here (FILEDIGESTALGO 8)
        assert observer_digest == hashlib.sha256(SAFE_ENTRIES[2].data).hexdigest().encode()


def _dirs_of(headers: dict) -> list[bytes]:
    return [headers["dirnames"][i] for i in headers["dirindexes"]]


@pytest.mark.parametrize("entries", [SAFE_ENTRIES, SAFE_ENTRIES + HOSTILE_ENTRIES], ids=["safe", "hostile"])
def test_rpmfile_extracts_identical_entries(tmp_path: Path, compressor: str, entries: list[RpmFileEntry]) -> None:
    path = write_rpm(_spec(entries, compressor), tmp_path / "p.rpm")
    with rpmfile.open(path) as rpm:
        members = {m.name: m for m in rpm.getmembers()}  # rpmfile lists everything but directories
        expected = [e for e in entries if e.kind is not EntryKind.DIRECTORY]
        assert list(members) == [e.name for e in expected]
        for entry in expected:
            member = members[entry.name]
            assert rpm.extractfile(member).read() == entry.content
            assert member.mode == entry.mode & 0o777
            assert bool(member.issymlink) == (entry.kind is EntryKind.SYMLINK)


def _signature_tags(data: bytes) -> tuple[dict[int, bytes], int]:
    """The raw signature-header values by tag, and where the main header starts."""
    count, size = struct.unpack(">II", data[104:112])
    index_end = 112 + 16 * count
    store = data[index_end : index_end + size]
    tags = {}
    entries = [struct.unpack(">IIiI", data[112 + 16 * i : 128 + 16 * i]) for i in range(count)]
    for tag, kind, offset, n in entries:
        length = {4: 4 * n, 7: n}.get(kind, store.find(b"\0", offset) - offset)
        tags[tag] = store[offset : offset + length]
    end = index_end + size
    return tags, end + (-end % 8)


def test_signature_digests_cover_header_and_payload(compressor: str) -> None:
    data = build_rpm(_spec(SAFE_ENTRIES, compressor))
    sig, header_start = _signature_tags(data)
    with rpmfile.open(fileobj=io.BytesIO(data)) as rpm:
        assert rpm.header_range[0] == header_start
        payload_start = rpm.data_offset
    header, payload = data[header_start:payload_start], data[payload_start:]
    assert struct.unpack(">I", sig[1000])[0] == len(header) + len(payload)
    assert sig[1004] == hashlib.md5(header + payload).digest()
    assert sig[269] == hashlib.sha1(header).hexdigest().encode()
    assert sig[273] == hashlib.sha256(header).hexdigest().encode()
    assert data[:4] == b"\xed\xab\xee\xdb" and data[96:99] == b"\x8e\xad\xe8"


def test_build_is_deterministic_for_a_fixed_build_time() -> None:
    assert build_rpm(_spec(SAFE_ENTRIES, "xz")) == build_rpm(_spec(SAFE_ENTRIES, "xz"))


def test_empty_package_is_readable(tmp_path: Path) -> None:
    path = write_rpm(_spec([]), tmp_path / "empty.rpm")
    with rpmfile.open(path) as rpm:
        assert rpm.headers["name"] == b"oceanbase-ce"
        assert rpm.getmembers() == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": "4.2-1"}, "must not contain '-'"),
        ({"release": ""}, "release must be a non-empty word"),
        ({"name": "ocean base"}, "name must be a non-empty word"),
        ({"compressor": "zstd"}, "unsupported payload compressor"),
        ({"files": [RpmFileEntry(name="./x", kind=EntryKind.SYMLINK)]}, "has no target"),
        ({"files": [RpmFileEntry.file("", b"")]}, "bad payload entry name"),
    ],
)
def test_invalid_spec_is_a_value_error(change: dict, message: str) -> None:
    spec = _spec(SAFE_ENTRIES)
    for key, value in change.items():
        setattr(spec, key, value)
    with pytest.raises(ValueError, match=message):
        build_rpm(spec)


def test_write_leaves_no_partial_file(tmp_path: Path) -> None:
    write_rpm(_spec(SAFE_ENTRIES), tmp_path / "p.rpm")
    assert [p.name for p in tmp_path.iterdir()] == ["p.rpm"]


# --- the real tools (Debian packages rpm2cpio, cpio, rpm) -------------------------------

needs_rpm2cpio = pytest.mark.skipif(
    not (shutil.which("rpm2cpio") and shutil.which("cpio")), reason="rpm2cpio/cpio not installed"
)
needs_rpm = pytest.mark.skipif(not shutil.which("rpm"), reason="rpm not installed")


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kwargs)  # type: ignore[call-overload]


@needs_rpm2cpio
@pytest.mark.multiprocess
def test_rpm2cpio_and_cpio_extract_identical_tree(tmp_path: Path, compressor: str) -> None:
    rpm_path = write_rpm(_spec(SAFE_ENTRIES, compressor), tmp_path / "p.rpm")
    root = tmp_path / "root"
    root.mkdir()
    cpio_bytes = subprocess.run(["rpm2cpio", str(rpm_path)], capture_output=True, check=True, timeout=60).stdout
    subprocess.run(["cpio", "-idm", "--quiet"], input=cpio_bytes, cwd=root, check=True, timeout=60)
    for entry in SAFE_ENTRIES:
        target = root / entry.name
        if entry.kind is EntryKind.SYMLINK:
            assert os.readlink(target) == entry.link_target
        elif entry.kind is EntryKind.DIRECTORY:
            assert target.is_dir()
        else:
            assert target.read_bytes() == entry.data
            assert target.stat().st_mode & 0o7777 == entry.mode


@needs_rpm
@pytest.mark.multiprocess
def test_rpm_queries_and_verifies_digests(tmp_path: Path, compressor: str) -> None:
    rpm_path = write_rpm(_spec(SAFE_ENTRIES, compressor), tmp_path / "p.rpm")
    info = _run(["rpm", "-qip", str(rpm_path)])
    assert info.returncode == 0, info.stderr
    assert "Name        : oceanbase-ce" in info.stdout
    assert "Release     : 101000062023110109.el7" in info.stdout
    assert "Architecture: x86_64" in info.stdout
    listing = _run(["rpm", "-qlp", str(rpm_path)])
    assert listing.stdout.split() == [e.installed_path for e in SAFE_ENTRIES]
    check = _run(["rpm", "-K", "--nosignature", "-v", str(rpm_path)])
    assert check.returncode == 0, check.stdout + check.stderr
    for digest in ("Header SHA256 digest: OK", "Header SHA1 digest: OK", "Payload SHA256 digest: OK", "MD5 digest: OK"):
        assert digest in check.stdout


@needs_rpm
@pytest.mark.multiprocess
def test_rpm_detects_a_corrupted_payload(tmp_path: Path) -> None:
    data = bytearray(build_rpm(_spec(SAFE_ENTRIES, "gzip")))
    data[-20] ^= 0xFF
    rpm_path = tmp_path / "bad.rpm"
    rpm_path.write_bytes(bytes(data))
    check = _run(["rpm", "-K", "--nosignature", str(rpm_path)])
    assert check.returncode != 0


@needs_rpm
@pytest.mark.multiprocess
def test_rpm_installs_into_a_scratch_root_and_verifies_files(tmp_path: Path) -> None:
    # Installing makes rpm check every file digest, size and mode against the payload.
    rpm_path = write_rpm(_spec(SAFE_ENTRIES, "xz"), tmp_path / "p.rpm")
    root = tmp_path / "root"
    root.mkdir()
    assert _run(["rpm", "--root", str(root), "--initdb"]).returncode == 0
    install = _run(["rpm", "--root", str(root), "-i", "--nodeps", "--ignorearch", "--ignoreos", str(rpm_path)])
    assert install.returncode == 0, install.stderr
    verify = _run(["rpm", "--root", str(root), "-V", "oceanbase-ce"])
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert (root / "home/admin/oceanbase/bin/observer").read_bytes() == SAFE_ENTRIES[2].data
