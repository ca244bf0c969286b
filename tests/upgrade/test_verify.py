"""The post-upgrade checks, each on scripted answers: a cluster that passes, the failure each one
exists for, and answers it cannot use (no row, NULL, garbage, a failed statement), which fail that
check alone with a clear detail and never raise."""

from __future__ import annotations

import copy

import pytest

from pyobshell.errors import MYSQL_ERROR, ObshellError
from pyobshell.ob.tenants import decode_data_version
from pyobshell.upgrade import verify
from pyobshell.upgrade.verify import Expectation, run_checks
from pyobshell.wire import report as names

BUILD = "4.2.1.1_101000062023110109-0123abcd(Nov  1 2023 10:00:00)"
OLD_BUILD = "4.2.1.0_100000012023101010-0123abcd(Oct 10 2023 10:10:10)"
V4211 = str(4 << 32 | 2 << 16 | 1 << 8 | 1)
SERVERS = [("127.0.1.1", "zone1"), ("127.0.2.1", "zone2"), ("127.0.3.1", "zone3")]
TENANTS = [(1, "sys", "PRIMARY"), (1001, "META$1002", "PRIMARY"), (1002, "tenant1", "PRIMARY")]
SAVED = [{"SVR_IP": ip, "SVR_PORT": 2882, "ZONE": zone, "SCOPE": "CLUSTER", "TENANT_ID": None, "NAME": name,
          "VALUE": value} for ip, zone in SERVERS
         for name, value in (("server_permanent_offline_time", "3600s"), ("enable_rebalance", "True"),
                             ("enable_rereplication", "True"))]
TARGET = Expectation("4.2.1.1", "101000062023110109", SAVED)


def healthy() -> dict[str, list[dict]]:
    """Answers by a fragment of the statement: a cluster that finished its upgrade to 4.2.1.1."""
    server_rows = [{"SVR_IP": ip, "SVR_PORT": 2882, "SQL_PORT": 2881, "ZONE": zone, "WITH_ROOTSERVER": "NO",
                    "STATUS": "ACTIVE", "BUILD_VERSION": BUILD, "START_SERVICE_TIME": "2024-01-01 00:00:00",
                    "STOP_TIME": None} for ip, zone in SERVERS]

    def parameter(name: str, value: str) -> list[dict]:
        return [{"SVR_IP": ip, "SVR_PORT": 2882, "ZONE": zone, "SCOPE": "CLUSTER", "TENANT_ID": None, "NAME": name,
                 "VALUE": value} for ip, zone in SERVERS]

    return {
        "DBA_OB_SERVERS": server_rows,
        "DBA_OB_ZONES": [{"ZONE": zone, "STATUS": "ACTIVE"} for _, zone in SERVERS],
        "'min_observer_version'": parameter("min_observer_version", "4.2.1.1"),
        "'enable_upgrade_mode'": parameter("enable_upgrade_mode", "False"),
        "'server_permanent_offline_time'": [dict(row) for row in SAVED],
        "DBA_OB_TENANTS": [{"TENANT_ID": t, "TENANT_NAME": n, "TENANT_TYPE": "USER", "TENANT_ROLE": r}
                           for t, n, r in TENANTS],
        "__all_virtual_tenant_parameter_info": [{"TENANT_ID": t, "SVR_IP": ip, "SVR_PORT": 2882, "VALUE": "4.2.1.1"}
                                                for t, _, _ in TENANTS for ip, _ in SERVERS],
        "__all_virtual_core_table": [{"TENANT_ID": t, "COLUMN_NAME": c, "COLUMN_VALUE": V4211}
                                     for t, _, _ in TENANTS for c in ("target_data_version", "current_data_version")],
    }


class Scripted:
    """An ``ob.sql.Sql`` answering by fragment; a fragment mapped to an exception raises it."""

    def __init__(self, answers: dict):
        self.answers = answers
        self.statements: list[str] = []

    def query(self, sql: str, args=None) -> list[dict]:
        self.statements.append(sql)
        text = f"{sql} {args!r}"
        for fragment, rows in self.answers.items():
            if fragment in text:
                if isinstance(rows, Exception):
                    raise rows
                return copy.deepcopy(rows)
        raise AssertionError(f"unscripted statement: {sql}")

    def execute(self, sql: str, args=None) -> int:
        raise AssertionError(f"a check changed something: {sql}")


def checks(answers: dict, expectation: Expectation = TARGET) -> dict:
    return {check.name: check for check in run_checks(Scripted(answers), expectation)}


def only_failed(answers: dict, expectation: Expectation = TARGET) -> dict:
    return {name: check for name, check in checks(answers, expectation).items() if not check.ok}


def test_a_finished_upgrade_passes_every_check_with_the_real_values() -> None:
    result = checks(healthy())
    assert list(result) == list(names.CHECK_NAMES) and all(c.ok for c in result.values()), result
    assert result[names.ONE_BUILD].expected == "4.2.1.1_101000062023110109"
    assert result[names.ONE_BUILD].found.startswith("4.2.1.1_101000062023110109 on 127.0.1.1:2882")
    assert result[names.MIN_OBSERVER_VERSION].found == "4.2.1.1 on every server (3)"
    assert result[names.TENANT_COMPATIBLE].found == "sys=4.2.1.1, META$1002=4.2.1.1, tenant1=4.2.1.1"
    assert result[names.TENANT_DATA_VERSION].found == "sys=4.2.1.1, META$1002=4.2.1.1, tenant1=4.2.1.1"
    assert result[names.PARAMETERS_RESTORED].found == "9 of 9 values as backed up"


def test_no_check_changes_anything_and_every_statement_lives_in_ob() -> None:
    sql = Scripted(healthy())
    run_checks(sql, TARGET)
    assert sql.statements and all("oceanbase." in statement for statement in sql.statements)


def test_without_a_target_the_cluster_must_agree_with_its_lowest_build() -> None:
    answers = healthy()
    assert all(c.ok for c in checks(answers, Expectation()).values())
    answers["DBA_OB_SERVERS"][2]["BUILD_VERSION"] = OLD_BUILD
    failed = only_failed(answers, Expectation())
    assert set(failed) == {names.ONE_BUILD, names.MIN_OBSERVER_VERSION, names.TENANT_COMPATIBLE,
                           names.TENANT_DATA_VERSION}
    assert failed[names.ONE_BUILD].detail == "2 builds run in the cluster"
    assert failed[names.MIN_OBSERVER_VERSION].expected == "4.2.1.0"
    assert "lowest server build" in failed[names.MIN_OBSERVER_VERSION].detail


def test_servers_on_another_build_than_the_target() -> None:
    answers = healthy()
    for row in answers["DBA_OB_SERVERS"]:
        row["BUILD_VERSION"] = OLD_BUILD
    failed = only_failed(answers)[names.ONE_BUILD]
    assert failed.detail == "every server runs 4.2.1.0_100000012023101010, not the target 4.2.1.1_101000062023110109"


def test_a_stopped_zone_and_a_server_out_of_service() -> None:
    answers = healthy()
    answers["DBA_OB_ZONES"][1]["STATUS"] = "INACTIVE"
    answers["DBA_OB_SERVERS"][0]["STOP_TIME"] = "2024-01-01 00:00:01"
    answers["DBA_OB_SERVERS"][2]["STATUS"] = "INACTIVE"
    failed = only_failed(answers)
    assert set(failed) == {names.ZONES_ACTIVE, names.SERVERS_IN_SERVICE}
    assert failed[names.ZONES_ACTIVE].detail == "stopped: zone2"
    assert failed[names.SERVERS_IN_SERVICE].found == "127.0.1.1:2882 (stopped), 127.0.3.1:2882 (INACTIVE)"


def test_min_observer_version_behind_on_one_server() -> None:
    answers = healthy()
    answers["'min_observer_version'"][1]["VALUE"] = "4.2.1.0"
    failed = only_failed(answers)[names.MIN_OBSERVER_VERSION]
    assert failed.found == "4.2.1.0 on 127.0.2.1:2882; 4.2.1.1 on 127.0.1.1:2882, 127.0.3.1:2882"
    assert failed.detail == "not 4.2.1.1 (the upgrade's target) on 127.0.2.1:2882"


def test_a_tenant_whose_compatible_was_not_raised_and_a_standby_that_is_excepted() -> None:
    answers = healthy()
    answers["DBA_OB_TENANTS"].append({"TENANT_ID": 1004, "TENANT_NAME": "standby1", "TENANT_TYPE": "USER",
                                      "TENANT_ROLE": "STANDBY"})
    answers["__all_virtual_tenant_parameter_info"] += [{"TENANT_ID": 1004, "SVR_IP": "127.0.1.1", "SVR_PORT": 2882,
                                                        "VALUE": "4.2.0.0"}]
    assert names.TENANT_COMPATIBLE not in only_failed(answers)
    for row in answers["__all_virtual_tenant_parameter_info"]:
        if row["TENANT_ID"] == 1002 and row["SVR_IP"] == "127.0.3.1":
            row["VALUE"] = "4.2.1.0"
    failed = only_failed(answers)[names.TENANT_COMPATIBLE]
    assert failed.found == "sys=4.2.1.1, META$1002=4.2.1.1, tenant1=4.2.1.0/4.2.1.1"
    assert failed.detail == "servers disagree for tenant1; not 4.2.1.1 (the upgrade's target) for tenant1"


def test_a_data_version_behind_and_one_missing() -> None:
    answers = healthy()
    rows = answers["__all_virtual_core_table"]
    rows[0]["COLUMN_VALUE"] = str(4 << 32 | 2 << 16 | 1 << 8)  # sys target: 4.2.1.0
    del rows[-1]  # tenant1 has no current_data_version
    failed = only_failed(answers)[names.TENANT_DATA_VERSION]
    assert failed.found == "sys=4.2.1.0/4.2.1.1, META$1002=4.2.1.1, tenant1=4.2.1.1"
    assert failed.detail == ("no data version for tenant1 (current_data_version); "
                             "not 4.2.1.1 (the upgrade's target) for sys")


def test_upgrade_mode_left_on() -> None:
    answers = healthy()
    answers["'enable_upgrade_mode'"][0]["VALUE"] = "True"
    failed = only_failed(answers)
    assert list(failed) == [names.UPGRADE_MODE_OFF]
    assert failed[names.UPGRADE_MODE_OFF].detail == "enable_upgrade_mode is not False on 127.0.1.1:2882"


def test_a_parameter_not_back_to_its_backed_up_value() -> None:
    answers = healthy()
    for row in answers["'server_permanent_offline_time'"]:
        if row["NAME"] == "server_permanent_offline_time" and row["SVR_IP"] == "127.0.2.1":
            row["VALUE"] = "72h"
    answers["'server_permanent_offline_time'"] = [r for r in answers["'server_permanent_offline_time'"]
                                                  if not (r["NAME"] == "enable_rebalance" and r["SVR_IP"] == "127.0.3.1")]
    failed = only_failed(answers)[names.PARAMETERS_RESTORED]
    assert failed.found == "7 of 9 values as backed up"
    assert failed.detail == ("server_permanent_offline_time on 127.0.2.1:2882: 72h, backed up 3600s; "
                             "enable_rebalance on 127.0.3.1:2882: no value now (backed up True)")
    assert failed.expected == "enable_rebalance=True, enable_rereplication=True, server_permanent_offline_time=3600s"


def test_no_backup_is_nothing_to_compare_and_a_broken_backup_fails() -> None:
    check = checks(healthy(), Expectation("4.2.1.1", "101000062023110109", None))[names.PARAMETERS_RESTORED]
    assert check.ok and "no parameter backup" in check.detail
    broken = only_failed(healthy(), Expectation("4.2.1.1", "101000062023110109", "garbage"))
    assert list(broken) == [names.PARAMETERS_RESTORED]
    assert broken[names.PARAMETERS_RESTORED].detail.startswith("unexpected answer: the parameter backup is not")


@pytest.mark.parametrize("fragment, change, check, detail", [
    ("DBA_OB_ZONES", [], names.ZONES_ACTIVE, "unexpected answer: DBA_OB_ZONES lists no zone"),
    ("'enable_upgrade_mode'", [], names.UPGRADE_MODE_OFF,
     "unexpected answer: no server reports enable_upgrade_mode (GV$OB_PARAMETERS)"),
    ("'min_observer_version'", "NULL", names.MIN_OBSERVER_VERSION,
     "unexpected answer: min_observer_version is NULL on 127.0.1.1:2882"),
    ("'min_observer_version'", "4.2.x", names.MIN_OBSERVER_VERSION, "unexpected answer: '4.2.x' is not a version"),
    ("__all_virtual_tenant_parameter_info", "bogus", names.TENANT_COMPATIBLE,
     "unexpected answer: 'bogus' is not a version"),
    ("__all_virtual_tenant_parameter_info", [], names.TENANT_COMPATIBLE,
     "no compatible for sys, META$1002, tenant1"),
    ("__all_virtual_core_table", "-1", names.TENANT_DATA_VERSION,
     "unexpected answer: target_data_version of tenant sys: not an encoded data version: '-1'"),
    ("DBA_OB_TENANTS", [], names.TENANT_COMPATIBLE, "unexpected answer: DBA_OB_TENANTS lists no tenant"),
    ("__all_virtual_core_table", ObshellError(MYSQL_ERROR, "(1146) Table doesn't exist"), names.TENANT_DATA_VERSION,
     "cannot read it: (1146) Table doesn't exist"),
])
def test_answers_a_check_cannot_use_fail_it_with_a_clear_detail(fragment, change, check, detail) -> None:
    answers = healthy()
    if isinstance(change, str):
        column = "COLUMN_VALUE" if fragment == "__all_virtual_core_table" else "VALUE"
        answers[fragment][0][column] = None if change == "NULL" else change
    else:
        answers[fragment] = change
    failed = only_failed(answers)
    assert failed[check].detail == detail
    assert failed[check].ok is False


def test_a_garbage_build_fails_the_build_check_and_leaves_the_target_checks_alone() -> None:
    answers = healthy()
    answers["DBA_OB_SERVERS"][1]["BUILD_VERSION"] = "not-a-build"
    failed = only_failed(answers)
    assert list(failed) == [names.ONE_BUILD]
    assert failed[names.ONE_BUILD].detail == ("unexpected answer: server 127.0.2.1:2882 reports build 'not-a-build', "
                                              "not a build version")
    # without a target the versions have nothing to be compared with: they say so, no traceback
    failed = only_failed(answers, Expectation())
    assert "servers' builds cannot be read" in failed[names.MIN_OBSERVER_VERSION].detail


def test_a_servers_row_without_its_columns_fails_that_check() -> None:
    answers = healthy()
    answers["DBA_OB_SERVERS"] = [{"SVR_IP": "127.0.1.1"}]
    failed = only_failed(answers)
    assert failed[names.SERVERS_IN_SERVICE].detail == "unexpected answer: KeyError: 'STATUS'"
    assert failed[names.ONE_BUILD].detail.startswith("unexpected answer: server 127.0.1.1:None reports build None")


def test_data_versions_are_decoded_as_oceanbase_encodes_them() -> None:
    assert decode_data_version(V4211) == "4.2.1.1"
    assert decode_data_version(17179869184) == "4.0.0.0" and decode_data_version(17180000512) == "4.2.1.0"
    for bad in (None, True, "", "4.2.1.1", "-5", str(1 << 48), "１２"):
        with pytest.raises(ValueError):
            decode_data_version(bad)


def test_lists_are_cut_short() -> None:
    assert verify._listed([f"s{i}" for i in range(9)]) == "s0, s1, s2, s3, s4, s5 and 3 more"
