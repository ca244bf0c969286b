import hashlib
import os
import stat
import tracemalloc

import pytest

from pyobshell.sim.rpm_writer import RpmFileEntry
from pyobshell.upgrade.packages.inspector import (
    EntryType,
    PackageError,
    PackageProblem,
    inspect_rpm,
)
from pyobshell.upgrade.route_file import parse_route_file

from tests.upgrade import rpm_factory as factory
from tests.upgrade.rpm_factory import HOME, ROUTE_YAML


def refused(path, **kwargs) -> PackageError:
    with pytest.raises(PackageError) as caught:
        inspect_rpm(path, **kwargs)
    return caught.value


def hostile(tmp_path, *extra: RpmFileEntry):
    return factory.write(tmp_path, factory.spec(factory.observer_files() + list(extra)))


# --- good packages -----------------------------------------------------------------------


@pytest.mark.parametrize("compressor", ["xz", "gzip"])
def test_inspects_a_good_package(tmp_path, compressor):
    path = factory.write(tmp_path, factory.spec(compressor=compressor))
    data = path.read_bytes()
    info = inspect_rpm(path)
    assert (info.name, info.version, info.release, info.arch) == ("oceanbase-ce", "4.2.1.1", "101000062023110109.el7", "x86_64")
    assert (info.build_number, info.distribution) == ("101000062023110109", "el7")
    assert str(info.build_version) == "4.2.1.1-101000062023110109"
    assert info.compression == compressor
    assert info.file_size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    # MD5 and payload size cover the main header and the payload: everything from the
    # second header magic on (the first one starts the signature).
    main_header = data.index(b"\x8e\xad\xe8\x01", 96 + 16)
    assert info.payload_size == len(data) - main_header
    assert info.md5 == hashlib.md5(data[main_header:]).hexdigest()
    contents = [e for e in factory.observer_files() if e.kind.name != "DIRECTORY"]
    assert info.size == sum(len(e.content) for e in contents)
    assert info.upgrade_dep_yaml == ROUTE_YAML
    assert len(parse_route_file(info.upgrade_dep_yaml)) == 15


def test_lists_entries_with_types_modes_and_link_targets(tmp_path):
    info = inspect_rpm(factory.write(tmp_path, factory.spec()))
    by_name = {e.name: e for e in info.entries}
    observer = by_name[f"{HOME}/bin/observer"]
    assert (observer.type, observer.mode, observer.parts[-2:]) == (EntryType.FILE, 0o755, ("bin", "observer"))
    link = by_name[f"{HOME}/lib/libobserver.so"]
    assert (link.type, link.link_target) == (EntryType.SYMLINK, "libobserver.so.1")
    assert by_name["./home"].type is EntryType.DIRECTORY
    assert info.has_file("home/admin/oceanbase/bin/observer")
    assert info.has_file("./home/admin/oceanbase/etc/upgrade_pre.py")
    assert not info.has_file("home/admin/oceanbase/bin/obshell")


def test_package_without_route_file(tmp_path):
    path = factory.write(tmp_path, factory.spec(factory.observer_files(route_yaml=None), name="oceanbase-ce-libs"))
    info = inspect_rpm(path)
    assert info.upgrade_dep_yaml is None and info.name == "oceanbase-ce-libs"


def test_matching_expected_sha256_is_accepted_in_any_case(tmp_path):
    path = factory.write(tmp_path, factory.spec())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert inspect_rpm(path, expected_sha256=digest.upper()).sha256 == digest


@pytest.mark.parametrize("name", ["oceanbase", "oceanbase-ce", "oceanbase-ce-libs", "oceanbase-standalone", "obshell"])
def test_obshell_package_names_are_accepted(tmp_path, name):
    assert inspect_rpm(factory.write(tmp_path, factory.spec(name=name))).name == name


def test_inspection_streams_instead_of_loading_the_package(tmp_path):
    big = os.urandom(1 << 20) * 16  # 16 MiB that gzip cannot shrink much
    files = [RpmFileEntry.file(f"{HOME}/bin/observer", big, 0o755)]
    path = factory.write(tmp_path, factory.spec(files, compressor="gzip"))
    del big, files
    assert path.stat().st_size > 15 << 20
    tracemalloc.start()
    try:
        inspect_rpm(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6 << 20, f"peak Python allocation {peak} bytes"


# --- refusals ----------------------------------------------------------------------------


def test_refuses_a_file_that_is_not_an_rpm(tmp_path):
    path = tmp_path / "notes.rpm"
    path.write_text("just some text that is long enough to fill an RPM lead... " * 4)
    error = refused(path)
    assert error.problem is PackageProblem.NOT_RPM
    assert error.status == 400 and "notes.rpm" in error.message


def test_refuses_an_empty_file(tmp_path):
    (tmp_path / "empty.rpm").write_bytes(b"")
    assert refused(tmp_path / "empty.rpm").problem is PackageProblem.NOT_RPM


def test_refuses_a_missing_file_as_io_failure(tmp_path):
    error = refused(tmp_path / "absent.rpm")
    assert error.problem is PackageProblem.IO_FAILED and error.status == 500


def test_refuses_an_rpm_lead_without_headers(tmp_path):
    good = factory.write(tmp_path, factory.spec()).read_bytes()
    (tmp_path / "lead.rpm").write_bytes(good[:96] + b"\0" * 200)
    assert refused(tmp_path / "lead.rpm").problem is PackageProblem.CORRUPTED


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_refuses_a_truncated_package(tmp_path, keep):
    good = factory.write(tmp_path, factory.spec()).read_bytes()
    (tmp_path / "cut.rpm").write_bytes(good[: max(100, int(len(good) * keep))])
    assert refused(tmp_path / "cut.rpm").problem is PackageProblem.CORRUPTED


def test_refuses_a_flipped_payload_byte(tmp_path):
    data = bytearray(factory.write(tmp_path, factory.spec()).read_bytes())
    data[-100] ^= 0xFF
    (tmp_path / "flip.rpm").write_bytes(bytes(data))
    error = refused(tmp_path / "flip.rpm")
    assert error.problem is PackageProblem.CORRUPTED and "MD5" in error.message


def test_refuses_a_payload_that_does_not_match_its_recorded_digest(tmp_path):
    records = factory.newc_record("./a", stat.S_IFREG | 0o644, b"a") + factory.newc_trailer()
    payload = factory.compressed_cpio(records)
    other = factory.compressed_cpio(factory.newc_trailer())
    path = factory.raw_rpm(tmp_path, factory.spec([]), payload, header_payload=other)
    error = refused(path)
    assert error.problem is PackageProblem.CORRUPTED and "recorded SHA-256" in error.message


def test_refuses_a_signed_but_truncated_payload(tmp_path):
    # Signature and digests agree with the bytes, but the xz stream itself stops halfway.
    records = factory.newc_record("./big", stat.S_IFREG | 0o644, os.urandom(20000)) + factory.newc_trailer()
    payload = factory.compressed_cpio(records)[:8000]
    error = refused(factory.raw_rpm(tmp_path, factory.spec([]), payload))
    assert error.problem is PackageProblem.CORRUPTED and "cannot be read fully" in error.message


def test_refuses_a_cpio_archive_without_trailer(tmp_path):
    payload = factory.compressed_cpio(factory.newc_record("./a", stat.S_IFREG | 0o644, b"abc"))
    error = refused(factory.raw_rpm(tmp_path, factory.spec([]), payload))
    assert error.problem is PackageProblem.CORRUPTED and "cannot be read fully" in error.message


def test_refuses_a_payload_that_is_not_cpio(tmp_path):
    payload = factory.compressed_cpio(b"PK\x03\x04 this is a zip, not a cpio archive" * 10)
    error = refused(factory.raw_rpm(tmp_path, factory.spec([]), payload))
    assert error.problem is PackageProblem.CORRUPTED and "not a cpio" in error.message


def test_refuses_a_mismatching_expected_sha256(tmp_path):
    path = factory.write(tmp_path, factory.spec())
    error = refused(path, expected_sha256="0" * 64)
    assert error.problem is PackageProblem.CHECKSUM_MISMATCH
    assert "0" * 64 in error.message and hashlib.sha256(path.read_bytes()).hexdigest() in error.message


@pytest.mark.parametrize("name", ["nginx", "oceanbase-ce-debuginfo", "obproxy-ce", "oceanbase-diagnostic-tool"])
def test_refuses_names_that_are_not_oceanbase_packages(tmp_path, name):
    error = refused(factory.write(tmp_path, factory.spec(name=name)))
    assert error.problem is PackageProblem.NAME_NOT_SUPPORTED
    assert error.code == "OB.Package.Name.NotSupport" and f"'{name}'" in error.message


def test_refuses_a_name_outside_the_callers_edition(tmp_path):
    path = factory.write(tmp_path, factory.spec(name="oceanbase-ce"))
    error = refused(path, allowed_names=("obshell", "oceanbase"))
    assert error.problem is PackageProblem.NAME_NOT_SUPPORTED and "[obshell, oceanbase]" in error.message


@pytest.mark.parametrize(("version", "release"), [("4.2.1", "1.el7"), ("4.2.1.1", "101000062023110109"), ("4.2.1.1", "abc.el7")])
def test_refuses_malformed_version_or_release(tmp_path, version, release):
    error = refused(factory.write(tmp_path, factory.spec(version=version, release=release)))
    assert error.problem is PackageProblem.VERSION_INVALID


def test_refuses_an_unsupported_payload_compression(tmp_path):
    package = factory.spec([], compressor="zstd")
    payload = factory.compressed_cpio(factory.newc_trailer(), "gzip")
    error = refused(factory.raw_rpm(tmp_path, package, payload))
    assert error.problem is PackageProblem.COMPRESSION_UNSUPPORTED and "zstd" in error.message


def test_refuses_a_payload_format_other_than_cpio(tmp_path):
    payload = factory.compressed_cpio(factory.newc_trailer())
    edit = lambda header: header.replace(b"cpio\0", b"tar\0\0")  # noqa: E731
    error = refused(factory.raw_rpm(tmp_path, factory.spec([]), payload, header_edit=edit))
    assert error.problem is PackageProblem.FORMAT_UNSUPPORTED


@pytest.mark.parametrize("name", ["../evil", f"{HOME}/../../../../etc/cron.d/evil", "./home/admin/oceanbase/bin/../../../.."])
def test_refuses_entries_that_climb_out(tmp_path, name):
    error = refused(hostile(tmp_path, RpmFileEntry.file(name, b"x")))
    assert error.problem is PackageProblem.UNSAFE_ENTRY and "climbs out" in error.message


def test_refuses_absolute_entry_names(tmp_path):
    error = refused(hostile(tmp_path, RpmFileEntry.file("/etc/passwd", b"root::0:0::/:/bin/sh\n")))
    assert error.problem is PackageProblem.UNSAFE_ENTRY and "absolute" in error.message


def test_refuses_an_absolute_symlink(tmp_path):
    error = refused(hostile(tmp_path, RpmFileEntry.symlink(f"{HOME}/lib/libc.so", "/lib64/libc.so.6")))
    assert error.problem is PackageProblem.UNSAFE_ENTRY and "points outside" in error.message


def test_refuses_a_symlink_that_climbs_out(tmp_path):
    error = refused(hostile(tmp_path, RpmFileEntry.symlink(f"{HOME}/etc/shadow", "../../../../../etc/shadow")))
    assert error.problem is PackageProblem.UNSAFE_ENTRY and "points outside" in error.message


def test_refuses_a_symlink_chain_that_escapes_only_when_followed(tmp_path):
    # Lexically "b/.." stays at the root, but b -> "." makes it the root's parent.
    error = refused(hostile(tmp_path, RpmFileEntry.symlink("./b", "."), RpmFileEntry.symlink("./a", "b/..")))
    assert error.problem is PackageProblem.UNSAFE_ENTRY and "'./a'" in error.message


def test_refuses_a_symlink_loop(tmp_path):
    error = refused(hostile(tmp_path, RpmFileEntry.symlink("./x", "y/z"), RpmFileEntry.symlink("./y", "x/w")))
    assert error.problem is PackageProblem.UNSAFE_ENTRY and "loop" in error.message


def test_refuses_entries_below_a_symlink(tmp_path):
    error = refused(hostile(tmp_path, RpmFileEntry.symlink("./data", f"{HOME}/lib"), RpmFileEntry.file("./data/x", b"x")))
    assert error.problem is PackageProblem.UNSAFE_ENTRY and "below the symlink" in error.message


@pytest.mark.parametrize("file_type", [factory.FIFO, factory.CHAR_DEVICE])
def test_refuses_device_and_fifo_entries(tmp_path, file_type):
    error = refused(hostile(tmp_path, factory.special_entry(f"{HOME}/dev/null", file_type)))
    assert error.problem is PackageProblem.UNSAFE_ENTRY and "device, FIFO or socket" in error.message


def test_accepts_relative_symlinks_that_stay_inside(tmp_path):
    path = hostile(tmp_path, RpmFileEntry.symlink(f"{HOME}/bin/observer.lnk", "../bin/./observer"),
                   RpmFileEntry.symlink("./opt/ob", f"..{HOME[1:]}"))
    assert len(inspect_rpm(path).entries) == len(factory.observer_files()) + 2
