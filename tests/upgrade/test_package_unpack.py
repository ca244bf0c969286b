import os
import stat

import pytest

from pyobshell.sim.rpm_writer import RpmFileEntry
from pyobshell.upgrade.packages.inspector import PackageError, PackageProblem, inspect_rpm, unpack_rpm

from tests.upgrade import rpm_factory as factory
from tests.upgrade.rpm_factory import HOME, ROUTE_YAML


@pytest.fixture
def outside(tmp_path):
    """A directory next to the destination that no package may touch."""
    directory = tmp_path / "outside"
    directory.mkdir()
    return directory


def tree(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


def refused_unpack(tmp_path, outside, *extra: RpmFileEntry, name="hostile.rpm") -> PackageError:
    package = factory.write(tmp_path, factory.spec(factory.observer_files() + list(extra)), name)
    dest = tmp_path / "dest"
    with pytest.raises(PackageError) as caught:
        unpack_rpm(package, dest)
    assert tree(outside) == set(), "a refused package wrote outside its destination"
    assert not dest.exists(), "a refused unpack left files behind"
    return caught.value


def test_unpacks_the_home_with_modes_and_links(tmp_path):
    dest = tmp_path / "dest"
    written = unpack_rpm(factory.write(tmp_path, factory.spec()), dest)
    assert (dest / "bin" / "observer").read_bytes() == b"#!/bin/sh\necho observer\n"
    assert stat.S_IMODE((dest / "bin" / "observer").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "etc" / "upgrade_pre.py").stat().st_mode) == 0o644
    assert (dest / "etc" / "oceanbase_upgrade_dep.yml").read_text() == ROUTE_YAML
    assert os.readlink(dest / "lib" / "libobserver.so") == "libobserver.so.1"
    assert (dest / "lib" / "libobserver.so").read_bytes().startswith(b"\x7fELF")
    assert "README" not in {p.name for p in dest.rglob("*")}  # outside the stripped prefix
    assert {p.relative_to(dest.resolve()).as_posix() for p in written} == {
        "bin/observer", "etc/upgrade_pre.py", "lib/libobserver.so.1", "lib/libobserver.so", "etc/oceanbase_upgrade_dep.yml",
    }


def test_unpacks_everything_with_an_empty_prefix(tmp_path):
    dest = tmp_path / "all"
    unpack_rpm(factory.write(tmp_path, factory.spec()), dest, strip_prefix=".")
    assert (dest / "home/admin/oceanbase/bin/observer").is_file()
    assert (dest / "usr/share/doc/oceanbase/README").is_file()


def test_setuid_bits_are_dropped(tmp_path):
    files = [RpmFileEntry.file(f"{HOME}/bin/observer", b"x", 0o4755)]
    dest = tmp_path / "dest"
    unpack_rpm(factory.write(tmp_path, factory.spec(files)), dest)
    assert stat.S_IMODE((dest / "bin" / "observer").stat().st_mode) == 0o755


def test_directory_modes_are_applied_after_their_files(tmp_path):
    files = [RpmFileEntry.directory(f"{HOME}/etc", 0o555), RpmFileEntry.file(f"{HOME}/etc/a.conf", b"a")]
    dest = tmp_path / "dest"
    unpack_rpm(factory.write(tmp_path, factory.spec(files)), dest)
    assert (dest / "etc" / "a.conf").read_bytes() == b"a"
    assert stat.S_IMODE((dest / "etc").stat().st_mode) & 0o055 == 0o055


def test_hard_links_share_the_data_stored_with_the_last_member(tmp_path):
    data = b"shared library bytes"
    records = (
        factory.newc_record(f"{HOME}/lib/liba.so", stat.S_IFREG | 0o755, b"", inode=7, nlink=2)
        + factory.newc_record(f"{HOME}/lib/libb.so", stat.S_IFREG | 0o755, data, inode=7, nlink=2)
        + factory.newc_trailer()
    )
    package = factory.raw_rpm(tmp_path, factory.spec([]), factory.compressed_cpio(records))
    dest = tmp_path / "dest"
    unpack_rpm(package, dest)
    assert (dest / "lib" / "liba.so").read_bytes() == data
    assert (dest / "lib" / "liba.so").stat().st_ino == (dest / "lib" / "libb.so").stat().st_ino


def test_refuses_an_entry_that_climbs_out(tmp_path, outside):
    error = refused_unpack(tmp_path, outside, RpmFileEntry.file(f"{HOME}/../../../../outside/evil", b"x"))
    assert error.problem is PackageProblem.UNSAFE_ENTRY


def test_refuses_an_absolute_entry(tmp_path, outside):
    error = refused_unpack(tmp_path, outside, RpmFileEntry.file(str(outside / "evil"), b"x"))
    assert error.problem is PackageProblem.UNSAFE_ENTRY


def test_refuses_an_absolute_symlink(tmp_path, outside):
    error = refused_unpack(tmp_path, outside, RpmFileEntry.symlink(f"{HOME}/bin/out", str(outside)))
    assert error.problem is PackageProblem.UNSAFE_ENTRY


def test_refuses_a_link_inside_the_package_but_outside_the_destination(tmp_path, outside):
    # home/admin/oceanbase/bin/../../x is home/admin/x: inside the package, outside the home.
    link = RpmFileEntry.symlink(f"{HOME}/bin/up", "../../x")
    package = factory.write(tmp_path, factory.spec(factory.observer_files() + [link]))
    inspect_rpm(package)  # fine as a package ...
    with pytest.raises(PackageError) as caught:  # ... but it would leave the unpacked home
        unpack_rpm(package, tmp_path / "dest")
    assert caught.value.problem is PackageProblem.UNSAFE_ENTRY and "points outside" in caught.value.message
    assert not (tmp_path / "dest").exists() and tree(outside) == set()


def test_refuses_a_symlink_chain_escape(tmp_path, outside):
    error = refused_unpack(tmp_path, outside, RpmFileEntry.symlink(f"{HOME}/b", "."), RpmFileEntry.symlink(f"{HOME}/a", "b/.."))
    assert error.problem is PackageProblem.UNSAFE_ENTRY


def test_refuses_writing_through_a_packaged_symlink(tmp_path, outside):
    # The classic two-step attack: a link to the outside, then a file "inside" the link.
    error = refused_unpack(tmp_path, outside, RpmFileEntry.symlink(f"{HOME}/data", "../../../../outside"),
                           RpmFileEntry.file(f"{HOME}/data/evil", b"x"))
    assert error.problem is PackageProblem.UNSAFE_ENTRY


def test_refuses_a_fifo(tmp_path, outside):
    error = refused_unpack(tmp_path, outside, factory.special_entry(f"{HOME}/run/pipe", factory.FIFO))
    assert error.problem is PackageProblem.UNSAFE_ENTRY


def test_refuses_a_symlink_colliding_with_a_file(tmp_path, outside):
    error = refused_unpack(tmp_path, outside, RpmFileEntry.symlink(f"{HOME}/bin/observer", "observer.real"))
    assert error.problem is PackageProblem.UNSAFE_ENTRY and "collides" in error.message


def test_refuses_a_destination_that_already_holds_a_symlink_to_the_outside(tmp_path, outside):
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "bin").symlink_to(outside)
    with pytest.raises(PackageError) as caught:
        unpack_rpm(factory.write(tmp_path, factory.spec()), dest)
    assert caught.value.problem is PackageProblem.UNSAFE_ENTRY
    assert tree(outside) == set()


def test_refuses_a_truncated_payload_and_removes_what_it_wrote(tmp_path, outside):
    records = (
        factory.newc_record(f"{HOME}/bin/observer", stat.S_IFREG | 0o755, b"ok")
        + factory.newc_record(f"{HOME}/lib/big.so", stat.S_IFREG | 0o644, os.urandom(50000))
        + factory.newc_trailer()
    )
    payload = factory.compressed_cpio(records)[:20000]
    dest = tmp_path / "dest"
    with pytest.raises(PackageError) as caught:
        unpack_rpm(factory.raw_rpm(tmp_path, factory.spec([]), payload), dest)
    assert caught.value.problem is PackageProblem.CORRUPTED
    assert not dest.exists()


def test_refuses_a_file_that_is_not_an_rpm(tmp_path):
    (tmp_path / "x.rpm").write_bytes(b"\x00" * 500)
    with pytest.raises(PackageError) as caught:
        unpack_rpm(tmp_path / "x.rpm", tmp_path / "dest")
    assert caught.value.problem is PackageProblem.NOT_RPM
    assert not (tmp_path / "dest").exists()


def test_refuses_a_destination_directory_reached_through_a_symlink_higher_up(tmp_path, outside):
    (outside / "sub").mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "bin").symlink_to(outside)
    package = factory.write(tmp_path, factory.spec([RpmFileEntry.file(f"{HOME}/bin/sub/evil", b"x")]))
    with pytest.raises(PackageError) as caught:
        unpack_rpm(package, dest)
    assert caught.value.problem is PackageProblem.UNSAFE_ENTRY
    assert tree(outside) == {"sub"}
