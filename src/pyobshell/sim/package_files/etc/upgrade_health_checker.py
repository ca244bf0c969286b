#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""Waits until the cluster (or one zone, -z) is healthy enough to go on upgrading.

Servers serving, every log stream replica in sync, every tenant's schema refreshed
on every server, and with -z one build version inside the zone. Also imported by
upgrade_pre.py and upgrade_post.py, which run the same checks as their health_check module.
"""

from __future__ import annotations

import logging
import sys
from typing import List

import upgrade_common as common
from upgrade_common import Options, ScriptError, ScriptSpec, Session

SPEC = ScriptSpec(
    name="upgrade_health_checker",
    description="Check that the cluster is healthy during an upgrade (optionally one zone).",
    default_log_file="upgrade_cluster_health_checker.log",
    has_zone=True,
)

SCHEMA_REFRESHED_SQL = (
    "select if (a.cnt = b.cnt, 1, 0) as passed from (select count(*) as cnt from "
    "oceanbase.__all_virtual_server_schema_info where refreshed_schema_version > 1 and "
    "refreshed_schema_version % 8 = 0) as a join (select count(*) as cnt from "
    "oceanbase.__all_server join oceanbase.__all_tenant) as b")
MAJOR_COMPACTION_SQL = ("select count(1) from oceanbase.CDB_OB_MAJOR_COMPACTION "
                        "where (GLOBAL_BROADCAST_SCN > LAST_SCN or STATUS != 'IDLE')")
TABLET_COMPACTION_SQL = ("select /*+ query_timeout(1000000000) */ count(1) from "
                         "oceanbase.__all_virtual_tablet_compaction_info "
                         "where max_received_scn > finished_scn and max_received_scn > 0")


def check_zone_valid(session: Session, zone: str) -> None:
    if not zone:
        logging.info("zone is empty, check all servers in cluster")
        return
    count = session.scalar("select count(*) from oceanbase.DBA_OB_ZONES where zone = '{0}'".format(zone))
    if count != 1:
        raise ScriptError("zone:{0} doesn't exist".format(zone))
    logging.info("zone:%s is valid", zone)


def wait_observers_serving(session: Session, zone: str, timeout: int) -> None:
    sql = ("select count(*) from oceanbase.__all_server "
           "where (start_service_time <= 0 or status='inactive')")
    if zone:
        sql += " and zone = '{0}'".format(zone)
    common.wait_for_value(session, sql, 0, common.timeout_by_tenant(session, timeout, 10, 600))


def wait_logs_in_sync(session: Session, timeout: int) -> None:
    # Cluster-wide even with -z: a restarted zone is only done once everyone caught up.
    sql = "select count(*) from oceanbase.GV$OB_LOG_STAT where in_sync = 'NO'"
    common.wait_for_value(session, sql, 0, common.timeout_by_tenant(session, timeout, 10, 600))


def wait_schema_refreshed(session: Session, timeout: int) -> None:
    common.wait_for_value(session, SCHEMA_REFRESHED_SQL, 1,
                          common.timeout_by_tenant(session, timeout, 30, 600))


def check_zone_build_version(session: Session, zone: str) -> None:
    if not zone:
        logging.info("skip check server version by cluster")
        return
    rows = session.query("select distinct(substring_index(build_version, '_', 1)) "
                         "from oceanbase.__all_server where zone = '{0}'".format(zone))
    if len(rows) != 1:
        raise ScriptError("servers build_version not match in zone {0}: {1}"
                          .format(zone, sorted(str(r[0]) for r in rows)))
    logging.info("check server version success, zone %s runs %s", zone, rows[0][0])


def wait_major_merge_finished(session: Session, timeout: int) -> None:
    """Only needed once major freezes are disabled; then the running merge must end."""
    rows = session.query("select distinct value from oceanbase.GV$OB_PARAMETERS "
                         "where name = 'enable_major_freeze'")
    if len(rows) == 1 and rows[0][0] == "True":
        logging.info("major freeze is enabled everywhere, skip waiting for merges")
        return
    budget = common.timeout_by_tenant(session, timeout, 30, 600)
    common.wait_for_value(session, MAJOR_COMPACTION_SQL, 0, budget)
    common.wait_for_value(session, TABLET_COMPACTION_SQL, 0, budget)


def run_health_check(session: Session, timeout: int, zone: str = "",
                     with_major_merge: bool = False) -> None:
    check_zone_valid(session, zone)
    wait_observers_serving(session, zone, timeout)
    wait_logs_in_sync(session, timeout)
    wait_schema_refreshed(session, timeout)
    check_zone_build_version(session, zone)
    if with_major_merge:
        wait_major_merge_finished(session, timeout)
    logging.info("health check success%s", " for zone " + zone if zone else "")


def _body(session: Session, opts: Options, modules: List[str]) -> None:
    run_health_check(session, opts.timeout, opts.zone)


def main(argv: List[str]) -> int:
    return common.run_script(SPEC, argv, _body)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
