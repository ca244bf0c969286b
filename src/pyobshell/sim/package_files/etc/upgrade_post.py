#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""Finishes an upgrade once every observer runs this package's binary.

Modules, in order: health_check, end_rolling_upgrade, tenant_upgrade (run the
upgrade job and root inspection), end_upgrade, post_check. Each one checks the
current state first, so re-running the script after a failure is safe.
"""

from __future__ import annotations

import logging
import sys
from typing import List, Optional, Tuple

import upgrade_common as common
import upgrade_health_checker as health
from upgrade_common import Options, ScriptError, ScriptSpec, Session

SPEC = ScriptSpec(
    name="upgrade_post",
    description="Finish the upgrade after every observer runs the new binary.",
    default_log_file="upgrade_post.log",
    modules=("health_check", "end_rolling_upgrade", "tenant_upgrade", "end_upgrade", "post_check"),
)

# Check that the RootService running the job did not change every this many polls.
RS_CHECK_EVERY_POLLS = 10
JOB_STATES = ("INPROGRESS", "SUCCESS", "FAILED")


def end_rolling_upgrade(session: Session, timeout: int, target: str) -> None:
    if common.parameter_has_value(session, "enable_upgrade_mode", "False"):
        logging.info("not in upgrade mode (already finished or never begun), skip")
        return
    already_done = (common.parameter_has_value(session, "_upgrade_stage", "POSTUPGRADE")
                    and common.parameter_has_value(session, "min_observer_version", target))
    if not already_done:
        session.execute("alter system end rolling upgrade")
    common.wait_parameter_sync(session, "min_observer_version", target, timeout)
    common.wait_parameter_sync(session, "_upgrade_stage", "POSTUPGRADE", timeout)


# ------------------------------------------------------------------ tenant_upgrade

def upgrade_across_version(session: Session, target: str) -> bool:
    """True when some tenant's data version has not reached `target` yet."""
    if session.scalar("select count(*) from oceanbase.__all_table "
                      "where table_name = '__all_virtual_core_table'") <= 0:
        return True  # cluster born before 4.1 has no core-table versions at all
    tenants = session.scalar("select count(*) from oceanbase.__all_tenant")
    matched = session.scalar(
        "select count(*) from __all_virtual_core_table where column_name in "
        "('target_data_version', 'current_data_version') and column_value = {0}"
        .format(common.data_version_code(target)))
    if matched != 2 * tenants:
        logging.info("data versions not at %s: tenants %s, matched %s", target, tenants, matched)
        return True
    unmatched = session.scalar("select count(*) from oceanbase.__all_virtual_tenant_parameter_info "
                               "where name = 'compatible' and value != '{0}'".format(target))
    return unmatched != 0


def ddl_enabled(session: Session) -> bool:
    rows = session.query("select value from oceanbase.__all_sys_parameter where name = 'enable_ddl'")
    if not rows:
        return True  # never set: the default is on
    return str(rows[0][0]).lower() in ("1", "true", "on", "yes", "t")


def _latest_job_status(session: Session, job: str) -> Optional[str]:
    rows = session.query("select job_status from oceanbase.__all_rootservice_job "
                         "where job_type = '{0}' order by job_id desc limit 1".format(job))
    return str(rows[0][0]) if rows else None


def _max_job_id(session: Session) -> int:
    rows = session.query("select job_id from oceanbase.__all_rootservice_job order by job_id desc limit 1")
    return int(rows[0][0]) if rows else 0


def _rootservice_still_there(session: Session, row: Tuple) -> bool:
    _, ip, port, gmt_create = row
    leader = session.scalar("select count(*) from oceanbase.__all_virtual_core_meta_table "
                            "where role = 1 and svr_ip = '{0}' and svr_port = {1}".format(ip, port))
    if leader != 1:
        return False
    restarted = session.scalar("select count(*) from oceanbase.__all_rootservice_event_history "
                               "where gmt_create > '{0}' and event = 'full_rootservice'".format(gmt_create))
    return restarted == 0


def wait_upgrade_job(session: Session, job: str, after_job_id: int, timeout_s: int) -> None:
    sql = ("select job_status, rs_svr_ip, rs_svr_port, gmt_create from oceanbase.__all_rootservice_job "
           "where job_type = '{0}' and job_id > {1} order by job_id desc limit 1".format(job, after_job_id))
    poller = common.Poller(timeout_s)
    polls = 0
    while True:
        rows = session.query(sql)
        polls += 1
        status = str(rows[0][0]) if rows else None
        if status == "SUCCESS":
            logging.info("upgrade job %s succeeded", job)
            return
        if status == "FAILED":
            raise ScriptError("upgrade job {0} failed, see __all_rootservice_job".format(job))
        if status not in (None, "INPROGRESS"):
            raise ScriptError("invalid job status of {0}: {1}".format(job, status))
        if status == "INPROGRESS" and polls % RS_CHECK_EVERY_POLLS == 0 \
                and not _rootservice_still_there(session, rows[0]):
            raise ScriptError("rs changed, should check if upgrade job {0} is still running".format(job))
        logging.info("upgrade job %s is %s", job, status or "not created yet")
        if poller.expired():
            raise ScriptError("result not expected, sql: {0}, expected: SUCCESS, last value: {1}, "
                              "waited {2}s".format(sql, status, timeout_s))
        poller.sleep()


def run_upgrade_job(session: Session, job: str, timeout: int) -> None:
    if _latest_job_status(session, job) == "INPROGRESS":
        raise ScriptError("upgrade job {0} still running, should wait".format(job))
    ddl_was_enabled = ddl_enabled(session)
    if not ddl_was_enabled:
        common.ensure_parameter(session, "enable_ddl", "True", timeout)
    common.ensure_parameter(session, "enable_sys_table_ddl", "True", timeout)
    after = _max_job_id(session)
    session.execute("alter system run upgrade job '{0}'".format(job))
    wait_upgrade_job(session, job, after, common.timeout_by_tenant(session, timeout, 100, 3600))
    common.ensure_parameter(session, "enable_sys_table_ddl", "False", timeout)
    if not ddl_was_enabled:
        common.ensure_parameter(session, "enable_ddl", "False", timeout)


def run_root_inspection(session: Session, timeout: int) -> None:
    session.set_query_timeout(common.timeout_by_tenant(session, timeout, 10, 600))
    session.execute("alter system run job 'root_inspection'")
    session.set_query_timeout(session.query_timeout_s)


def tenant_upgrade(session: Session, timeout: int, target: str) -> None:
    job = "UPGRADE_ALL" if upgrade_across_version(session, target) else "UPGRADE_VIRTUAL_SCHEMA"
    run_upgrade_job(session, job, timeout)
    run_root_inspection(session, timeout)


# ---------------------------------------------------------- end_upgrade, post_check

def end_upgrade(session: Session, timeout: int) -> None:
    if not common.parameter_has_value(session, "enable_upgrade_mode", "False"):
        session.execute("alter system end upgrade")
    common.wait_parameter_sync(session, "enable_upgrade_mode", "False", timeout)


def _non_standby_tenant_ids(session: Session) -> List[int]:
    rows = session.query("select tenant_id from oceanbase.__all_tenant except select tenant_id "
                         "from oceanbase.__all_virtual_tenant_info where tenant_role = 'STANDBY'")
    if not rows:
        raise ScriptError("no primary tenant found")
    return sorted(int(r[0]) for r in rows)


def check_data_versions(session: Session, timeout: int, target: str) -> None:
    tenant_ids = _non_standby_tenant_ids(session)
    ids = ",".join(str(t) for t in tenant_ids)
    servers = session.scalar("select count(*) from oceanbase.__all_server")
    common.wait_for_value(
        session,
        "select count(*) as cnt from oceanbase.__all_virtual_tenant_parameter_info where name = "
        "'compatible' and value = '{0}' and tenant_id in ({1})".format(target, ids),
        int(servers) * len(tenant_ids), common.timeout_by_tenant(session, timeout, 10, 60))
    matched = session.scalar(
        "select count(*) from __all_virtual_core_table where column_name in ('target_data_version', "
        "'current_data_version') and column_value = {0} and tenant_id in ({1})"
        .format(common.data_version_code(target), ids))
    if matched != 2 * len(tenant_ids):
        raise ScriptError("target_data_version/current_data_version not match with {0}, tenant_cnt:{1}, "
                          "result_cnt:{2}".format(target, len(tenant_ids), matched))


def post_check(session: Session, timeout: int, target: str) -> None:
    common.wait_parameter_sync(session, "min_observer_version", target, timeout)
    check_data_versions(session, timeout, target)
    common.wait_for_value(session, "select count(*) from oceanbase.__all_virtual_upgrade_inspection "
                                   "where info != 'succeed'", 0,
                          common.timeout_by_tenant(session, timeout, 10, 600))
    for name in ("enable_ddl", "enable_rebalance", "enable_rereplication", "enable_major_freeze"):
        common.ensure_parameter(session, name, "True", timeout)
    common.ensure_tenant_parameter(session, "_enable_adaptive_compaction", "True", timeout)
    for group in common.tenant_groups(session):
        session.execute("alter system resume merge tenant = {0}".format(group))


def _body(session: Session, opts: Options, modules: List[str]) -> None:
    common.check_build_version_uniform(session)
    needs_target = any(m in modules for m in ("end_rolling_upgrade", "tenant_upgrade", "post_check"))
    target = common.target_version() if needs_target else ""
    for module in modules:
        logging.info("================ begin to run %s ================", module)
        if module == "health_check":
            health.run_health_check(session, opts.timeout)
        elif module == "end_rolling_upgrade":
            end_rolling_upgrade(session, opts.timeout, target)
        elif module == "tenant_upgrade":
            tenant_upgrade(session, opts.timeout, target)
        elif module == "end_upgrade":
            end_upgrade(session, opts.timeout)
        elif module == "post_check":
            post_check(session, opts.timeout, target)
        logging.info("================ succeed to run %s ================", module)


def main(argv: List[str]) -> int:
    return common.run_script(SPEC, argv, _body)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
