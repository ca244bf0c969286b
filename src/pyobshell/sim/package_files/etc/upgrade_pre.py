#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""Puts the cluster into upgrade mode before any observer is replaced.

Modules, in order: begin_upgrade, begin_rolling_upgrade, special_action (only when
the cluster's version differs from this package's), health_check. Each one checks
the current state first, so re-running the script after a failure is safe.
"""

from __future__ import annotations

import logging
import sys
from typing import List

import upgrade_common as common
import upgrade_health_checker as health
from upgrade_common import Options, ScriptError, ScriptSpec, Session

SPEC = ScriptSpec(
    name="upgrade_pre",
    description="Prepare the cluster for replacing its observers (run before the first zone).",
    default_log_file="upgrade_pre.log",
    modules=("begin_upgrade", "begin_rolling_upgrade", "special_action", "health_check"),
)

# How long the merge already running may take to finish once major freezes are off.
MAJOR_MERGE_WAIT_S = 600


def begin_upgrade(session: Session, timeout: int) -> None:
    if not common.parameter_has_value(session, "enable_upgrade_mode", "True"):
        session.execute("alter system begin upgrade")
    common.wait_parameter_sync(session, "enable_upgrade_mode", "True", timeout)


def begin_rolling_upgrade(session: Session, timeout: int) -> None:
    if not common.parameter_has_value(session, "_upgrade_stage", "DBUPGRADE"):
        session.execute("alter system begin rolling upgrade")
    common.wait_parameter_sync(session, "_upgrade_stage", "DBUPGRADE", timeout)


def observer_version(session: Session) -> str:
    rows = session.query("select distinct value from __all_virtual_sys_parameter_stat "
                         "where name='min_observer_version'")
    if len(rows) != 1:
        raise ScriptError("min_observer_version is not sync: {0}".format([r[0] for r in rows]))
    return str(rows[0][0])


def special_action(session: Session, timeout: int, target: str) -> None:
    """Across versions: freeze DDL and compactions so mixed binaries never meet them."""
    current = observer_version(session)
    if current == target:
        logging.info("cluster already at %s, no special action needed", target)
        return
    logging.info("upgrade across versions %s -> %s: disable ddl and major compaction", current, target)
    common.ensure_parameter(session, "enable_ddl", "False", timeout)
    common.ensure_parameter(session, "enable_major_freeze", "False", timeout)
    common.ensure_tenant_parameter(session, "_enable_adaptive_compaction", "False", timeout)
    # The reference script sleeps 120 s here; waiting for the merge state is enough.
    health.wait_major_merge_finished(session, timeout if timeout > 0 else MAJOR_MERGE_WAIT_S)
    for group in common.tenant_groups(session):
        session.execute("alter system suspend merge tenant = {0}".format(group))


def _body(session: Session, opts: Options, modules: List[str]) -> None:
    common.check_build_version_uniform(session)
    target = common.target_version() if "special_action" in modules else ""
    for module in modules:
        logging.info("================ begin to run %s ================", module)
        if module == "begin_upgrade":
            begin_upgrade(session, opts.timeout)
        elif module == "begin_rolling_upgrade":
            begin_rolling_upgrade(session, opts.timeout)
        elif module == "special_action":
            special_action(session, opts.timeout, target)
        elif module == "health_check":
            health.run_health_check(session, opts.timeout, with_major_merge=True)
        logging.info("================ succeed to run %s ================", module)


def main(argv: List[str]) -> int:
    return common.run_script(SPEC, argv, _body)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
