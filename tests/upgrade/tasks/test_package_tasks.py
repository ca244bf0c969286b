"""The five per-host header tasks: python environment, upgrade dir, download, check, unpack."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pyobshell.upgrade.packages.space import space_needed
from sqlalchemy import create_engine
from tests.upgrade.tasks.task_fakes import run_task

from pyobshell.engine import Operator, TaskContext
from pyobshell.errors import ObshellError
from pyobshell.sim.package_builder import build_packages
from pyobshell.upgrade.packages.store import PackageStore

from pyobshell.upgrade.tasks import (
    CheckPackagesTask,
    CheckPythonEnvTask,
    CreateUpgradeDirTask,
    DownloadPackagesTask,
    RemoveUpgradeCheckDirTask,
    UnpackPackagesTask,
)
from pyobshell.upgrade.route import RouteStep
from pyobshell.upgrade.tasks.unpack_packages import reported_build

VERSION, RELEASE = "4.2.1.1", "101000062023110109.el7"
BUILD = RELEASE.split(".")[0]
TASK_TIME = "1700000000000"


@pytest.fixture(scope="module")
def rpms(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return build_packages(VERSION, RELEASE, tmp_path_factory.mktemp("rpms"))


@pytest.fixture
def store(tmp_path: Path, rpms: list[Path]) -> PackageStore:
    packages = PackageStore(create_engine(f"sqlite:///{tmp_path / 'packages.db'}"))
    for rpm in rpms:
        packages.add(rpm)
    return packages


def upgrade_params(upgrade_dir: str = "", release: str = BUILD) -> dict:
    node = RouteStep.from_dict({"Version": VERSION, "Release": release})
    return {"taskTime": TASK_TIME, "upgradeDir": upgrade_dir, "upgradeRoute": [node.to_dict()],
            "distribution": "el7", "obType": "oceanbase-ce"}


# --- python environment --------------------------------------------------------------------

def test_python_env_accepts_an_interpreter_with_mysql_connector(make_env) -> None:
    make_env(python=sys.executable)
    ran = run_task(CheckPythonEnvTask())
    assert f"upgrade scripts will run with {sys.executable} (Python 3." in ran.logs[0]
    assert ran.logs[-1] == f"{sys.executable} imports mysql.connector"


def test_python_env_refuses_a_missing_interpreter_or_module(make_env, tmp_path: Path) -> None:
    make_env(python=str(tmp_path / "no-python"))
    with pytest.raises(ObshellError) as missing:
        run_task(CheckPythonEnvTask())
    assert missing.value.code == "Environment.WithoutPython"
    fake = tmp_path / "python-without-mysql"
    fake.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')  # -S: no site-packages, so no mysql
    fake.chmod(0o755)
    make_env(python=str(fake))
    with pytest.raises(ObshellError) as module:
        run_task(CheckPythonEnvTask())
    assert module.value.code == "Environment.WithoutModule"
    assert "No module named 'mysql'" in module.value.message
    assert "pip install mysql-connector-python" in module.value.message


def test_only_the_first_agent_of_a_host_does_per_host_work(make_env) -> None:
    make_env(python="/nonexistent")  # would fail if it ran
    params = {"allAgents": [{"ip": "127.0.0.1", "port": 2885}, {"ip": "127.0.0.1", "port": 2886}]}
    ran = run_task(CheckPythonEnvTask(), params)
    assert "only one needs to perform this sub task (127.0.0.1:2885 does)" in ran.logs[0]


# --- upgrade dir ---------------------------------------------------------------------------

def test_create_dir_defaults_under_ob_home_and_rollback_removes_what_it_created(make_env, ob_home: Path) -> None:
    make_env()
    ran = run_task(CreateUpgradeDirTask(), upgrade_params())
    task_dir = ob_home / "upgrade" / f"rpm-{TASK_TIME}"
    assert task_dir.is_dir() and ran.logs == [f"created upgrade task dir {task_dir}"]
    assert ran.task.get_local_data("upgradeCheckTaskDir") == str(task_dir)
    assert ran.task.get_local_data("upgradeDir") == str(ob_home / "upgrade")
    (task_dir / "x86_64").mkdir()
    run_task(CreateUpgradeDirTask(), context=ran.context)  # a retry accepts its own dir
    run_task(CreateUpgradeDirTask(), context=ran.context, operator=Operator.ROLLBACK)
    assert not (ob_home / "upgrade").exists() and ob_home.is_dir()


def test_rollback_keeps_an_upgrade_dir_that_existed_before(make_env, tmp_path: Path) -> None:
    make_env()
    data = tmp_path / "data"
    (data / "keep").mkdir(parents=True)
    ran = run_task(CreateUpgradeDirTask(), upgrade_params(str(data)))
    run_task(CreateUpgradeDirTask(), context=ran.context, operator=Operator.ROLLBACK)
    assert (data / "keep").is_dir() and not (data / f"rpm-{TASK_TIME}").exists()


def test_create_dir_refuses_a_non_empty_task_dir(make_env, tmp_path: Path) -> None:
    make_env()
    (tmp_path / "up" / f"rpm-{TASK_TIME}" / "old").mkdir(parents=True)
    with pytest.raises(ObshellError) as refused:
        run_task(CreateUpgradeDirTask(), upgrade_params(str(tmp_path / "up")))
    assert refused.value.code == "Common.DirNotEmpty" and "not empty" in refused.value.message


def test_create_dir_refuses_a_relative_upgrade_dir(make_env) -> None:
    make_env()
    with pytest.raises(ObshellError) as refused:
        run_task(CreateUpgradeDirTask(), upgrade_params("relative/dir"))
    assert "not an absolute path" in refused.value.message


# --- download, check, unpack ---------------------------------------------------------------

def prepared(make_env, store: PackageStore, **params) -> TaskContext:
    make_env(package_store=lambda: store)
    return run_task(CreateUpgradeDirTask(), upgrade_params(**params)).context


def test_download_check_unpack_and_remove(make_env, store: PackageStore, ob_home: Path) -> None:
    context = prepared(make_env, store)
    downloaded = run_task(DownloadPackagesTask(), context=context)
    rpm_dir = ob_home / "upgrade" / f"rpm-{TASK_TIME}" / "x86_64" / VERSION
    assert sorted(p.name for p in rpm_dir.iterdir()) == ["oceanbase-ce-libs.rpm", "oceanbase-ce.rpm"]
    info = downloaded.task.get_local_data(f"{VERSION}-{BUILD}")
    assert info["RpmPkgHomepath"] == str(rpm_dir / "home" / "admin" / "oceanbase")
    assert downloaded.task.get_local_data(f"libs-{VERSION}-{BUILD}")["RpmName"] == "oceanbase-ce-libs"
    assert any("bytes free" in line for line in downloaded.logs)

    checked = run_task(CheckPackagesTask(), context=downloaded.context)
    assert checked.logs[-1] == "all 2 downloaded packages verified"
    unpacked = run_task(UnpackPackagesTask(), context=checked.context)
    home = rpm_dir / "home" / "admin" / "oceanbase"
    assert (home / "bin" / "observer").is_file() and (home / "lib").is_dir()
    assert (home / "etc" / "upgrade_pre.py").is_file()
    assert unpacked.logs[-1] == f"{home / 'bin' / 'observer'} -V reports {VERSION} build {BUILD}"
    run_task(UnpackPackagesTask(), context=unpacked.context)  # a retry unpacks again over a clean tree

    run_task(UnpackPackagesTask(), context=unpacked.context, operator=Operator.ROLLBACK)
    assert not (rpm_dir / "home").exists() and (rpm_dir / "oceanbase-ce.rpm").exists()
    removed = run_task(RemoveUpgradeCheckDirTask(), context=unpacked.context)
    assert not (ob_home / "upgrade" / f"rpm-{TASK_TIME}").exists() and (ob_home / "upgrade").is_dir()
    assert removed.logs[0].startswith("removed upgrade task dir")


def test_a_hop_without_build_takes_the_newest_uploaded_one(make_env, store: PackageStore) -> None:
    context = prepared(make_env, store, release="null")
    downloaded = run_task(DownloadPackagesTask(), context=context)
    assert downloaded.task.get_local_data(VERSION)["RpmBuildVersion"] == f"{VERSION}-{BUILD}"


def test_download_names_every_missing_package(make_env, store: PackageStore) -> None:
    context = prepared(make_env, store, release="100000000000000000")
    with pytest.raises(ObshellError) as missing:
        run_task(DownloadPackagesTask(), context=context)
    assert missing.value.code == "OB.Package.NotExist"
    assert "oceanbase-ce-4.2.1.1-100000000000000000.el7.x86_64.rpm" in missing.value.message
    assert "oceanbase-ce-libs-4.2.1.1-100000000000000000.el7.x86_64.rpm" in missing.value.message


def test_download_checks_free_space_with_a_margin(make_env, store: PackageStore, monkeypatch) -> None:
    from pyobshell.upgrade.tasks import download_packages

    context = prepared(make_env, store)
    needed = space_needed(store.list())
    assert needed > sum(p.file_size + p.size for p in store.list())  # the margin is real
    monkeypatch.setattr(download_packages, "free_bytes", lambda path: needed - 1)
    with pytest.raises(ObshellError) as full:
        run_task(DownloadPackagesTask(), context=context)
    assert full.value.code == "Environment.DiskSpaceNotEnough" and "Free some space" in full.value.message


def test_check_refuses_a_package_changed_on_disk(make_env, store: PackageStore, ob_home: Path) -> None:
    downloaded = run_task(DownloadPackagesTask(), context=prepared(make_env, store))
    rpm = Path(downloaded.task.get_local_data(f"{VERSION}-{BUILD}")["RpmPkgPath"])
    with rpm.open("ab") as file:
        file.write(b"tampered")
    with pytest.raises(ObshellError) as refused:
        run_task(CheckPackagesTask(), context=downloaded.context)
    assert refused.value.code == "Package.Checksum.Mismatch"


def test_unpack_smoke_test_refuses_an_observer_of_another_version(make_env, store: PackageStore) -> None:
    downloaded = run_task(DownloadPackagesTask(), context=prepared(make_env, store))
    context = downloaded.context
    node = RouteStep.from_dict({"Version": "4.2.1.2", "Release": BUILD})
    context.params["upgradeRoute"] = [node.to_dict()]  # the route wants another version
    for key in (f"{VERSION}-{BUILD}", f"libs-{VERSION}-{BUILD}"):
        context.set_agent_data("127.0.0.1:2886", key.replace(VERSION, "4.2.1.2"),
                               context.get_agent_data("127.0.0.1:2886", key))
    with pytest.raises(ObshellError) as refused:
        run_task(UnpackPackagesTask(), context=context)
    assert refused.value.code == "OB.Package.SmokeTestFailed"
    assert f"reports version {VERSION} build {BUILD}, expected 4.2.1.2" in refused.value.message


def test_reported_build_reads_the_observer_banner() -> None:
    banner = "observer (OceanBase_CE 4.2.1.1)\n\nREVISION: 101000062023110109-abc\n"
    assert reported_build(banner) == ("4.2.1.1", "101000062023110109")
    assert reported_build("observer (OceanBase 4.3.5.0)\n") == ("4.3.5.0", None)
    assert reported_build("garbage") == (None, None)
