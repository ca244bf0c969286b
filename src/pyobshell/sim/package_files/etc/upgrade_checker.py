#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""Read-only pre-upgrade checks; on success pins server_permanent_offline_time to 72h.

Every check runs; the failures are reported together as
"upgrade checker failed with N reasons: [..], [..]".
"""

from __future__ import annotations

import logging
import sys
from typing import Callable, List

import upgrade_common as common
from upgrade_common import Options, ScriptError, ScriptSpec, Session
from upgrade_health_checker import SCHEMA_REFRESHED_SQL

SPEC = ScriptSpec(
    name="upgrade_checker",
    description="Check that the cluster can be upgraded (read-only, then set "
                "server_permanent_offline_time = '72h').",
    default_log_file="upgrade_checker.log",
)

# Oldest cluster these scripts accept as a start point, and the last data-version barrier.
OLDEST_SUPPORTED_VERSION = "4.0.0.0"
DATA_VERSION_BARRIER = "4.1.0.0"
PERMANENT_OFFLINE_TIME = "72h"
PERMANENT_OFFLINE_SYNC_S = 50
MIN_OBSERVER_VERSION_SQL = "select distinct value from GV$OB_PARAMETERS where name='min_observer_version'"
RESERVED_TENANT_NAMES = ("all", "all_user", "all_meta")


class ChecksFailed(ScriptError):
    def __init__(self, reasons: List[str]) -> None:
        super().__init__("upgrade checker failed with {0} reasons: {1}".format(
            len(reasons), ", ".join("[{0}]".format(r) for r in reasons)))

    def final_line(self, script_name: str) -> str:
        return str(self)


class Checker:
    """Runs the checks against one session and collects the reasons for refusal."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.failures: List[str] = []

    def expect_zero(self, sql: str, reason: str) -> None:
        value = self.session.scalar(sql)
        if value != 0:
            self.failures.append(reason.format(value))

    def cluster_version(self) -> str:
        rows = self.session.query(MIN_OBSERVER_VERSION_SQL)
        if len(rows) != 1:
            self.failures.append("min_observer_version is not sync")
            return ""
        return str(rows[0][0])

    def check_observer_version(self) -> None:
        version = self.cluster_version()
        if version and common.version_tuple(version) < common.version_tuple(OLDEST_SUPPORTED_VERSION):
            self.failures.append("old observer version is expected equal or higher than: {0}, "
                                 "actual version:{1}".format(OLDEST_SUPPORTED_VERSION, version))

    def check_data_version(self) -> None:
        version = self.cluster_version()
        barrier = common.version_tuple(DATA_VERSION_BARRIER)
        if not version:
            return
        if common.version_tuple(version) < barrier:
            self.failures.append("prohibit cluster upgrade from cluster version less than {0}"
                                 .format(DATA_VERSION_BARRIER))
            return
        rows = self.session.query("select distinct value from oceanbase.__all_virtual_tenant_parameter_info "
                                  "where name='compatible'")
        if len(rows) != 1:
            self.failures.append("compatible is not sync")
            return
        data_version = str(rows[0][0])
        if common.version_tuple(data_version) < barrier:
            self.failures.append("prohibit cluster upgrade from data version less than {0}"
                                 .format(DATA_VERSION_BARRIER))
            return
        tenants = self.session.scalar("select count(*) from oceanbase.__all_tenant")
        matched = self.session.scalar(
            "select count(*) from __all_virtual_core_table where column_name in "
            "('target_data_version', 'current_data_version') and column_value = {0}"
            .format(common.data_version_code(data_version)))
        if matched != 2 * tenants:
            self.failures.append("target_data_version/current_data_version not match with {0}, "
                                 "tenant_cnt:{1}, result_cnt:{2}".format(data_version, tenants, matched))

    def check_replicas_and_jobs(self) -> None:
        self.expect_zero("select count(1) as unsync_cnt from GV$OB_LOG_STAT where in_sync = 'NO'",
                         "{0} replicas unsync, please check")
        self.expect_zero("select count(1) as cnt from DBA_OB_TENANT_JOBS "
                         "where job_status='INPROGRESS' and result_code is null",
                         "{0} locality tasks is doing, please check")
        self.expect_zero("select count(1) as rebalance_task_cnt from CDB_OB_LS_REPLICA_TASKS",
                         "{0} rebalance tasks is doing, please check")

    def check_merges(self) -> None:
        self.expect_zero("select count(1) from CDB_OB_MAJOR_COMPACTION "
                         "where (GLOBAL_BROADCAST_SCN > LAST_SCN or STATUS != 'IDLE')",
                         "{0} tenant is merging, please check")
        self.expect_zero("select /*+ query_timeout(1000000000) */ count(1) from "
                         "oceanbase.__all_virtual_tablet_compaction_info "
                         "where max_received_scn > finished_scn and max_received_scn > 0",
                         "{0} tablets are merging, please check")

    def check_tenants(self) -> None:
        self.expect_zero("select count(*) as count from DBA_OB_TENANTS where status != 'NORMAL'",
                         "has abnormal tenant ({0}), should stop")
        self.expect_zero("select count(*) as count from oceanbase.__all_virtual_tenant_info "
                         "where tenant_role != 'PRIMARY' and tenant_role != 'STANDBY'",
                         "has abnormal tenant info ({0}), should stop")
        self.expect_zero("select count(*) from DBA_OB_TENANTS where LOCKED = 'YES'",
                         "has {0} locked tenant, should unlock")
        names = self.session.query("select tenant_name from oceanbase.DBA_OB_TENANTS")
        if any(str(row[0]).lower() in RESERVED_TENANT_NAMES for row in names):
            self.failures.append("a tenant named all/all_user/all_meta (case insensitive) cannot exist "
                                 "in the cluster, please rename the tenant")

    def check_background_jobs(self) -> None:
        self.expect_zero("select count(1) from CDB_OB_RESTORE_PROGRESS",
                         "still has restore job, upgrade is not allowed temporarily")
        self.expect_zero("select count(1) from __all_virtual_ddl_task_status",
                         "There are DDL task in progress")
        self.expect_zero("select count(1) from CDB_OB_BACKUP_JOBS",
                         "still has backup job, upgrade is not allowed temporarily")
        version = self.cluster_version()
        if version and common.version_tuple(version) < common.version_tuple(DATA_VERSION_BARRIER):
            # Upgrading out of 4.0 needs archive and backup destinations cleared.
            self.expect_zero("select count(1) from CDB_OB_ARCHIVELOG where status!='STOP'",
                             "still has archive job, upgrade is not allowed temporarily")
            self.expect_zero("select count(1) from CDB_OB_ARCHIVE_DEST",
                             "still has archive destination, upgrade is not allowed temporarily")
            self.expect_zero("select count(1) from CDB_OB_BACKUP_PARAMETER "
                             "where name='data_backup_dest' and (value!=NULL or value!='')",
                             "still has backup destination, upgrade is not allowed temporarily")

    def check_servers(self) -> None:
        self.expect_zero('select count(*) from oceanbase.__all_server '
                         'where (start_service_time <= 0 or status != "active")',
                         "{0} observer not available , please check")
        passed = self.session.scalar(SCHEMA_REFRESHED_SQL)
        if passed != 1:
            self.failures.append("schema not refreshed on every server for every tenant, please check")
        rows = self.session.query("select distinct(substring_index(build_version, '_', 1)) from __all_server")
        if len(rows) != 1:
            self.failures.append("servers build_version not match")

    def checks(self) -> List[Callable[[], None]]:
        return [self.check_observer_version, self.check_data_version, self.check_replicas_and_jobs,
                self.check_merges, self.check_tenants, self.check_background_jobs, self.check_servers]


def pin_permanent_offline_time(session: Session, timeout: int) -> None:
    """Keeps restarted servers from being declared permanently offline mid-upgrade."""
    pending_sql = ("select count(*) as cnt from oceanbase.__all_virtual_sys_parameter_stat "
                   "where name = 'server_permanent_offline_time' and value != '{0}'"
                   .format(PERMANENT_OFFLINE_TIME))
    if session.scalar(pending_sql) == 0:
        logging.info("server_permanent_offline_time is already %s, skip", PERMANENT_OFFLINE_TIME)
        return
    session.execute("alter system set server_permanent_offline_time = '{0}'".format(PERMANENT_OFFLINE_TIME))
    common.wait_for_value(session, pending_sql, 0, timeout if timeout > 0 else PERMANENT_OFFLINE_SYNC_S)


def _body(session: Session, opts: Options, modules: List[str]) -> None:
    checker = Checker(session)
    for check in checker.checks():
        check()
    if checker.failures:
        raise ChecksFailed(checker.failures)
    logging.info("all upgrade checks passed")
    pin_permanent_offline_time(session, opts.timeout)


def main(argv: List[str]) -> int:
    return common.run_script(SPEC, argv, _body)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
