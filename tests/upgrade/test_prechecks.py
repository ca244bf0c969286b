"""Upgrade pre-checks: each check alone on scripted answers, all of them on a simulated cluster,
and every failure reported at once."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pymysql
import pytest

from pyobshell.errors import ObshellError
from pyobshell.observer_config import read_pid
from pyobshell.upgrade import prechecks
from pyobshell.upgrade.prechecks import AgentFacts, CheckFailure
from pyobshell.wire.upgrade import UpgradeMode
from tests.helpers.sim import connect, query as run_query, sim_cluster, wait_for
from tests.helpers import nets


class scripted:
    """An ``ob.sql.Sql`` answering by a distinctive fragment of the statement or its arguments."""

    def __init__(self, answers: dict[str, list[tuple]]):
        self.answers = answers

    def query(self, sql: str, args=None) -> list[dict]:
        text = f"{sql} {args!r}"
        for fragment, rows in self.answers.items():
            if fragment in text:
                return [dict(zip(["VALUE", *(f"c{i}" for i in range(1, 9))], row)) for row in rows]
        return [{"n": 0}]

    def execute(self, sql: str, args=None) -> int:
        raise AssertionError(f"a pre-check changed something: {sql}")


class Connection:
    """A pymysql connection as an ``ob.sql.Sql`` (rows as dicts)."""

    def __init__(self, conn):
        self.conn = conn

    def query(self, sql: str, args=None) -> list[dict]:
        with self.conn.cursor(pymysql.cursors.DictCursor) as cursor:
            cursor.execute(sql, args)
            return list(cursor.fetchall())

    def execute(self, sql: str, args=None) -> int:
        with self.conn.cursor() as cursor:
            return cursor.execute(sql, args)


HEALTHY = {
    "STATUS != 'ACTIVE'": [],
    "DBA_OB_ZONES": [(3,)],
    "ob_startup_mode": [],
    "GV$OB_SERVER_SCHEMA_INFO": [],
    "min_observer_version": [("4.2.1.0",)],
    "'compatible'": [("4.2.1.0",)],
}


def test_a_healthy_cluster_passes_every_check() -> None:
    assert prechecks.cluster_state_failures(scripted(HEALTHY), UpgradeMode.ROLLING) == []


def test_every_failure_is_reported_at_once() -> None:
    answers = {**HEALTHY, "DBA_OB_ZONES": [(2,)], "GV$OB_SERVER_SCHEMA_INFO": [("tenant1",)],
               "tablet_compaction_info": [(4,)], "CDB_OB_MAJOR_COMPACTION": [(1,)], "CDB_OB_BACKUP_JOBS": [(2,)],
               "min_observer_version": [("4.2.1.0",), ("4.2.1.1",)]}
    failures = prechecks.cluster_state_failures(scripted(answers), UpgradeMode.ROLLING)
    assert [f.code for f in failures] == [
        "OB.Upgrade.UnableToRollingUpgrade", "OB.Upgrade.TenantsSchemaNotRefreshed", "OB.Upgrade.TabletInMerging",
        "OB.Upgrade.TenantInMajorCompaction", "OB.Upgrade.HasRunningBackupTask", "OB.Upgrade.MinObserverVersionNotSync",
    ]
    with pytest.raises(ObshellError) as error:
        prechecks.raise_if_failed(failures)
    assert error.value.status == 400 and error.value.code == "OB.Upgrade.PreCheckFailed"
    assert [sub["errCode"] for sub in error.value.sub_errors] == [f.code for f in failures]


def test_stop_service_needs_no_zones_and_shared_storage_needs_two() -> None:
    two_zones = {**HEALTHY, "DBA_OB_ZONES": [(2,)]}
    assert prechecks.check_mode(UpgradeMode.STOPSERVICE, scripted(two_zones)) is None
    assert prechecks.check_mode(UpgradeMode.ROLLING, scripted({**two_zones, "ob_startup_mode": [("shared_storage",)]})) is None


def test_compatible_checked_only_below_4_3_3_0() -> None:
    split = {**HEALTHY, "'compatible'": [("4.2.1.0",), ("4.2.1.1",)]}
    assert [f.code for f in prechecks.check_data_versions_in_sync(scripted(split))] == ["OB.Upgrade.TenantCompatibleNotSync"]
    newer = {**split, "min_observer_version": [("4.10.0.0",)]}  # a version, not a string, comparison
    assert prechecks.check_data_versions_in_sync(scripted(newer)) == []


def test_agents_and_observers_unavailable() -> None:
    agents = [AgentFacts("127.0.0.1:2886", True, 3, "127.0.0.1:2881"), AgentFacts("127.0.0.2:2886", False, 3, "127.0.0.2:2881"),
              AgentFacts("127.0.0.3:2886", True, 1, "127.0.0.3:2881")]
    failures = prechecks.agent_failures(agents, missing=["127.0.0.4:2886"])
    assert failures == [
        CheckFailure("Agent.Unavailable", "Agent 127.0.0.2:2886, 127.0.0.4:2886 is not available"),
        CheckFailure("OB.Server.Unavailable", "Observer 127.0.0.3:2881 is not available"),
    ]


@pytest.mark.parametrize("path, code", [
    ("relative/dir", "Common.InvalidPath"),
    ("/tmp/a b", "Common.InvalidPath"),
    ("/tmp/../etc", "Common.InvalidPath"),
])
def test_bad_upgrade_dirs(path: str, code: str) -> None:
    failure = prechecks.check_upgrade_dir(path)
    assert failure is not None and failure.code == code and path in failure.message


def test_upgrade_dir_under_a_file_is_not_writable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    failure = prechecks.check_upgrade_dir(str(tmp_path / "file" / "upgrade"))
    assert failure is not None and failure.code == "Common.PermissionDenied"
    assert "is a file, not a directory" in failure.message


@pytest.mark.parametrize("path, kind", [("/proc/upgrade", "proc"), ("/proc", "proc"), ("/sys/kernel/x", "sysfs")])
def test_upgrade_dir_on_a_kernel_filesystem_says_so(path: str, kind: str) -> None:
    # /proc is writable to root by its mode bits and has 0 bytes free: it once read as a full disk.
    failure = prechecks.check_upgrade_dir(path, required_bytes=1024)
    assert failure is not None and failure.code == "Common.InvalidPath"
    assert f"kernel's {kind} filesystem" in failure.message and "DiskSpace" not in failure.code


def test_upgrade_dir_on_a_read_only_filesystem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.statvfs

    def read_only(path):
        stat = real(path)
        return type("Stat", (), {"f_flag": stat.f_flag | os.ST_RDONLY})()
    monkeypatch.setattr(prechecks.os, "statvfs", read_only)
    failure = prechecks.check_upgrade_dir(str(tmp_path / "up"), required_bytes=1024)
    assert failure is not None and failure.code == "Common.PermissionDenied" and "read-only" in failure.message


def test_upgrade_dir_space_and_default(tmp_path: Path) -> None:
    assert prechecks.check_upgrade_dir("") is None
    assert prechecks.check_upgrade_dir(str(tmp_path / "new" / "dir"), required_bytes=1024) is None
    too_big = prechecks.check_upgrade_dir(str(tmp_path), required_bytes=1 << 62)
    assert too_big is not None and too_big.code == "Environment.DiskSpaceNotEnough"


@pytest.mark.multiprocess
def test_checks_on_a_simulated_cluster(tmp_path: Path) -> None:
    password = "pre-pw"
    with sim_cluster(tmp_path / "c", net=nets.PRECHECKS, zones=3, password=password) as cluster:
        conn = connect(cluster["observers"][0], password)

        query = Connection(conn)
        with conn:
            assert prechecks.cluster_state_failures(query, UpgradeMode.ROLLING) == []
            run_query(conn, "ALTER SYSTEM MAJOR FREEZE TENANT = ALL")
            codes = [f.code for f in prechecks.cluster_state_failures(query, UpgradeMode.ROLLING)]
            assert "OB.Upgrade.TenantInMajorCompaction" in codes
            wait_for(lambda: prechecks.check_no_major_compaction(query) is None, 15, "major compaction to end")
            victim = Path(cluster["observers"][2]["home"])
            os.kill(read_pid(victim), signal.SIGKILL)
            failure = wait_for(lambda: prechecks.check_schema_refreshed(query), 15, "unrefreshed schema on the dead server")
            assert failure.code == "OB.Upgrade.TenantsSchemaNotRefreshed" and "sys" in failure.message


def test_a_stopped_zone_is_reported() -> None:
    failures = prechecks.cluster_state_failures(scripted({**HEALTHY, "STATUS != 'ACTIVE'": [("zone2",)]}),
                                                UpgradeMode.STOPSERVICE)
    assert [f.code for f in failures] == ["OB.Upgrade.ZoneNotActive"] and "zone2" in failures[0].message
