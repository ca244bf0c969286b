"""Which local RPMs an upgrade uses: the target, the route's packages, what the cluster lacks."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from pyobshell.wire.package import PackageInfo
from pyobshell.cli.local_packages import choose_target, not_stored, route_packages, scan_directory
from pyobshell.cli.output import CommandFailed
from pyobshell.versions import Version
from tests.api.upgrade.packages import build, build_pair

CURRENT = Version.parse("4.2.1.0-100000012023101010")
OLD_BUILD, NEW_BUILD = "101000062023110109.el7", "101000072023120101.el7"


@pytest.fixture(scope="module")
def pkg_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pkgs")
    build_pair(directory, "4.2.1.1", OLD_BUILD)
    build_pair(directory, "4.2.1.1", NEW_BUILD)
    build_pair(directory, "4.2.0.0", "100000012023050101.el7")  # older than the cluster
    build(directory, "oceanbase-ce", "4.2.1.1", "101000062023110109.el8")  # another distribution
    (directory / "notes.rpm").write_bytes(b"not an rpm at all")
    return directory


def test_scan_reads_headers_and_reports_what_it_skips(pkg_dir: Path) -> None:
    scan = scan_directory(pkg_dir)
    assert len(scan.packages) == 7
    assert len(scan.refused) == 1 and "notes.rpm" in scan.refused[0] and "not an RPM" in scan.refused[0]


def test_the_target_is_the_highest_build_unless_a_release_or_build_is_given(pkg_dir: Path) -> None:
    packages = scan_directory(pkg_dir).packages
    assert choose_target(packages, Version.parse("4.2.1.1"), None, pkg_dir).release == NEW_BUILD
    assert choose_target(packages, Version.parse("4.2.1.1"), OLD_BUILD, pkg_dir).release == OLD_BUILD
    by_build = choose_target(packages, Version.parse("4.2.1.1-101000062023110109"), None, pkg_dir)
    assert by_build.release in (OLD_BUILD, "101000062023110109.el8") and by_build.name == "oceanbase-ce"
    with pytest.raises(CommandFailed, match="no oceanbase-ce.* package of version 4.3.0.0"):
        choose_target(packages, Version.parse("4.3.0.0"), None, pkg_dir)


def test_the_route_needs_every_package_above_the_cluster_up_to_the_target(pkg_dir: Path) -> None:
    packages = scan_directory(pkg_dir).packages
    target = choose_target(packages, Version.parse("4.2.1.1"), OLD_BUILD, pkg_dir)
    needed = route_packages(packages, CURRENT, target)
    assert sorted(p.path.name for p in needed) == [
        f"oceanbase-ce-4.2.1.1-{OLD_BUILD}.x86_64.rpm", f"oceanbase-ce-libs-4.2.1.1-{OLD_BUILD}.x86_64.rpm"]
    newest = choose_target(packages, Version.parse("4.2.1.1"), None, pkg_dir)
    assert len(route_packages(packages, CURRENT, newest)) == 4  # both builds of 4.2.1.1, not 4.2.0.0


def test_only_what_the_cluster_lacks_is_uploaded(pkg_dir: Path) -> None:
    packages = scan_directory(pkg_dir).packages
    target = choose_target(packages, Version.parse("4.2.1.1"), OLD_BUILD, pkg_dir)
    needed = route_packages(packages, CURRENT, target)
    ce = next(p for p in needed if p.name == "oceanbase-ce")
    stored = PackageInfo(pkg_id=1, name=ce.name, version=ce.version, release_distribution=ce.release,
                         distribution="el7", release=ce.release.split(".")[0], architecture=ce.arch, size=1,
                         payload_size=1, chunk_count=1, md5="", gmt_modify=datetime(2024, 1, 1))
    assert [p.name for p in not_stored(needed, [stored])] == ["oceanbase-ce-libs"]


def test_a_missing_directory_is_a_clear_failure(tmp_path: Path) -> None:
    with pytest.raises(CommandFailed, match="does not exist"):
        scan_directory(tmp_path / "nowhere")
