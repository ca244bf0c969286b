"""Simulated OceanBase packages: contents, headers, the observer script and the CLI."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
import rpmfile
import yaml
from typer.testing import CliRunner

from pyobshell.cli.main import app
from pyobshell.sim.observer_binary import render_observer_script
from pyobshell.sim.package_builder import PACKAGE_FILES, build_packages

VERSION, RELEASE = "4.2.1.1", "101000062023110109.el7"
HOME = "./home/admin/oceanbase"
PACKAGED_ETC = PACKAGE_FILES / "etc"


@dataclass
class Member:
    data: bytes
    mode: int
    is_symlink: bool


def _members(path: Path) -> dict[str, Member]:
    with rpmfile.open(path) as rpm:
        return {
            m.name: Member(rpm.extractfile(m).read(), m.mode, bool(m.issymlink)) for m in rpm.getmembers()
        }


def _header_paths(path: Path) -> list[str]:
    with rpmfile.open(path) as rpm:
        h = rpm.headers
        return [(h["dirnames"][i] + b).decode() for i, b in zip(h["dirindexes"], h["basenames"])]


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    ce, libs = build_packages(VERSION, RELEASE, tmp_path_factory.mktemp("pkgs") / "new-dir")
    return ce, libs


def test_writes_both_packages_with_rpm_names_and_headers(packages: tuple[Path, Path]) -> None:
    ce, libs = packages
    assert ce.name == f"oceanbase-ce-{VERSION}-{RELEASE}.x86_64.rpm"
    assert libs.name == f"oceanbase-ce-libs-{VERSION}-{RELEASE}.x86_64.rpm"
    for path, name in ((ce, b"oceanbase-ce"), (libs, b"oceanbase-ce-libs")):
        with rpmfile.open(path) as rpm:
            h = rpm.headers
            assert (h["name"], h["version"], h["release"], h["arch"]) == (name, b"4.2.1.1", RELEASE.encode(), b"x86_64")
            # obshell accepts only xz-compressed cpio payloads
            assert (h["archive_format"], h["archive_compression"]) == (b"cpio", b"xz")


def test_ce_package_has_observer_and_every_packaged_etc_file(packages: tuple[Path, Path]) -> None:
    members = _members(packages[0])
    observer = members[f"{HOME}/bin/observer"]
    assert observer.mode == 0o755 and observer.data.startswith(b"#!")
    assert members[f"{HOME}/bin/obshell"].mode == 0o755
    etc_files = [p for p in PACKAGED_ETC.iterdir() if p.is_file() and p.suffix != ".pyc"]
    assert any(p.name == "oceanbase_upgrade_dep.yml" for p in etc_files)
    for source in etc_files:
        assert members[f"{HOME}/etc/{source.name}"].data == source.read_bytes(), source.name
    packaged_etc = {name for name in members if name.startswith(f"{HOME}/etc/")}
    assert packaged_etc == {f"{HOME}/etc/{p.name}" for p in etc_files}


def test_ce_package_lists_the_files_obshell_requires(packages: tuple[Path, Path]) -> None:
    paths = _header_paths(packages[0])
    for required in ("bin/observer", "bin/obshell", "etc/oceanbase_upgrade_dep.yml"):
        assert f"/home/admin/oceanbase/{required}" in paths


def test_default_route_file_is_oceanbase_route_data(packages: tuple[Path, Path]) -> None:
    route = yaml.safe_load(_members(packages[0])[f"{HOME}/etc/oceanbase_upgrade_dep.yml"].data)
    versions = [node["version"] for node in route]
    assert "4.2.1.1" in versions and "4.0.0.0" in versions


def test_libs_package_has_lib_dir_libraries_and_symlink(packages: tuple[Path, Path]) -> None:
    libs = packages[1]
    assert "/home/admin/oceanbase/lib" in _header_paths(libs)  # obshell's check for -libs
    members = _members(libs)
    assert {"libaio.so.1", "libmariadb.so.3"} <= {Path(n).name for n in members}
    link = members[f"{HOME}/lib/libaio.so.1"]
    assert link.is_symlink and f"{HOME}/lib/{link.data.decode()}" in members


def test_route_file_can_be_replaced(tmp_path: Path) -> None:
    custom = tmp_path / "route.yml"
    custom.write_text("- version: 4.2.1.1\n  can_be_upgraded_to:\n  - 4.2.9.9\n")
    ce, _ = build_packages("4.2.9.9", "1.el7", tmp_path / "out", dep_yml=custom)
    members = _members(ce)
    assert members[f"{HOME}/etc/oceanbase_upgrade_dep.yml"].data == custom.read_bytes()
    assert sum(name.endswith("oceanbase_upgrade_dep.yml") for name in members) == 1


def test_interpreter_becomes_the_shebang(tmp_path: Path) -> None:
    ce, _ = build_packages(VERSION, RELEASE, tmp_path, interpreter="/opt/py/bin/python3")
    assert _members(ce)[f"{HOME}/bin/observer"].data.startswith(b"#!/opt/py/bin/python3\n")


@pytest.mark.parametrize(
    ("version", "release", "message"),
    [
        ("4.2.1", RELEASE, "four dot-separated numbers"),
        ("4.2.1.x", RELEASE, "four dot-separated numbers"),
        ("4.2.1.1-1", RELEASE, "four dot-separated numbers"),
        (VERSION, "101000062023110109", "BUILD.DIST"),
        (VERSION, "10100.el7.x", "BUILD.DIST"),
        (VERSION, "abc.el7", "BUILD.DIST"),
        (VERSION, "1-2.el7", "BUILD.DIST"),
    ],
)
def test_bad_version_or_release_is_a_clear_value_error(
    tmp_path: Path, version: str, release: str, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build_packages(version, release, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_missing_route_file_and_bad_interpreter_are_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        build_packages(VERSION, RELEASE, tmp_path, dep_yml=tmp_path / "missing.yml")
    with pytest.raises(ValueError, match="absolute path"):
        build_packages(VERSION, RELEASE, tmp_path, interpreter="python3")


# --- the simulated observer ---------------------------------------------------------------


@pytest.mark.multiprocess
def test_extracted_observer_answers_dash_v_like_the_real_one(packages: tuple[Path, Path], tmp_path: Path) -> None:
    binary = tmp_path / "observer"
    binary.write_bytes(_members(packages[0])[f"{HOME}/bin/observer"].data)
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    # obshell's smoke test: bash, LD_LIBRARY_PATH, -V, combined output
    done = subprocess.run(
        ["/bin/bash", "-c", f"export LD_LIBRARY_PATH='{tmp_path}/lib'; '{binary}' -V"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    revision = re.search(r"REVISION:\s*(\d+)-([a-fA-F0-9]+)", done.stderr)
    edition = re.search(r"\(OceanBase(_CE)?\s*([\d.]+)\)", done.stderr)
    assert revision and revision.group(1) == "101000062023110109"
    assert edition and edition.group(1) == "_CE" and edition.group(2) == VERSION


def _run_script(text: str, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "argv", ["observer", *argv])
    with pytest.raises(SystemExit) as exited:
        exec(compile(text, "observer", "exec"), {"__name__": "__main__"})
    return exited.value.code  # type: ignore[return-value]


def test_observer_script_dispatches_to_the_simulated_server(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict] = []
    fake = types.ModuleType("pyobshell.sim.observer")
    fake.main = lambda **kwargs: calls.append(kwargs) or 7  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pyobshell.sim.observer", fake)
    text = render_observer_script(VERSION, RELEASE)
    assert _run_script(text, ["-p", "2881", "-z", "zone1"], monkeypatch) == 7
    assert calls == [{"version": VERSION, "release": RELEASE, "argv": ["-p", "2881", "-z", "zone1"]}]
    assert _run_script(text, ["-V"], monkeypatch) == 0
    assert len(calls) == 1  # -V never reaches the server


# --- CLI ----------------------------------------------------------------------------------


def _flat(text: str) -> str:
    """Error text without rich's box drawing and line wrapping."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def test_cli_prints_the_written_paths(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["sim", "package", "--version", VERSION, "--release", RELEASE, "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    printed = [Path(line) for line in result.stdout.splitlines()]
    assert [p.name for p in printed] == [
        f"oceanbase-ce-{VERSION}-{RELEASE}.x86_64.rpm",
        f"oceanbase-ce-libs-{VERSION}-{RELEASE}.x86_64.rpm",
    ]
    assert all(p.is_file() for p in printed)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--version", "4.2", "--release", RELEASE], "version must be four dot-separated numbers"),
        (["--version", VERSION, "--release", "el7"], "release must be BUILD.DIST"),
        (["--version", VERSION, "--release", RELEASE, "--dep-yml", "no/such/route.yml"], "does not exist"),
        (["--version", VERSION, "--release", RELEASE, "--compressor", "zstd"], "must be xz or gzip"),
    ],
)
def test_cli_rejects_bad_input_with_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["sim", "package", "--out", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in _flat(result.stderr)
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_cli_reports_an_unwritable_out_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(
        app, ["sim", "package", "--version", VERSION, "--release", RELEASE, "--out", str(blocker / "sub")]
    )
    assert result.exit_code == 1
    assert "cannot write packages" in result.stderr and "Traceback" not in result.output



@pytest.mark.skipif(not shutil.which("rpm"), reason="rpm not installed")
@pytest.mark.multiprocess
def test_rpm_tool_validates_the_built_packages(packages: tuple[Path, Path]) -> None:
    for path in packages:
        check = subprocess.run(["rpm", "-K", "--nosignature", str(path)], capture_output=True, text=True, timeout=60)
        assert check.returncode == 0 and "digests OK" in check.stdout, check.stdout + check.stderr


def test_cli_signs_both_packages_with_a_secret_key_file(tmp_path: Path, signing_key) -> None:
    from pyobshell.upgrade.packages.inspector import inspect_rpm
    from pyobshell.upgrade.packages.keyring import Keyring

    result = CliRunner().invoke(app, ["sim", "package", "--version", VERSION, "--release", RELEASE,
                                      "--out", str(tmp_path), "--sign", str(signing_key.secret_file)])
    assert result.exit_code == 0, result.output
    keyring = Keyring.load(signing_key.public_file)
    for line in result.stdout.splitlines():
        signature = inspect_rpm(Path(line), keyring=keyring).signature
        assert (signature.state.value, signature.user_id) == ("verified", signing_key.user_id)


def test_cli_refuses_a_key_that_cannot_sign_naming_the_option(tmp_path: Path, signing_key) -> None:
    result = CliRunner().invoke(app, ["sim", "package", "--version", VERSION, "--release", RELEASE,
                                      "--out", str(tmp_path / "out"), "--sign", str(signing_key.public_file)])
    assert result.exit_code == 2
    assert "--sign" in _flat(result.output) and "cannot sign" in _flat(result.output)
    assert not (tmp_path / "out").exists()  # nothing written
