"""Synchronous pre-checks of ``POST /api/v1/ob/upgrade`` (obshell-upgrade reference §2, §3).

Unlike obshell, which stops at the first failure, every check runs and every failure is
reported at once, each with its own code, so an operator fixes them in one round.
Each check is a small function over a ``query`` callable (SQL as root@sys on the observer)
or over plain facts; it returns a :class:`CheckFailure` or ``None``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyobshell.errors import ErrorCode, ErrorKind
from pyobshell.wire.upgrade import upgrade_dir_problem

Query = Callable[[str], Sequence[Sequence[object]]]

PRECHECK_FAILED = ErrorCode("OB.Upgrade.PreCheckFailed", ErrorKind.BAD_REQUEST, "Upgrade pre-check failed: {}")
ROLLING_MIN_ZONES = 3
ROLLING_MIN_ZONES_SHARED_STORAGE = 2


@dataclass(frozen=True)
class CheckFailure:
    code: str
    message: str

    def as_sub_error(self) -> dict[str, str]:
        return {"errCode": self.code, "message": self.message}


def raise_if_failed(failures: Sequence[CheckFailure]) -> None:
    """One 400 error listing every failed check (``subErrors``), or nothing."""
    if failures:
        summary = "; ".join(f"{f.code}: {f.message}" for f in failures)
        error = PRECHECK_FAILED(summary)
        error.sub_errors = [f.as_sub_error() for f in failures]
        raise error


def _count(query: Query, sql: str) -> int:
    rows = query(sql)
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


# --- cluster state (SQL) ------------------------------------------------------------------

def check_schema_refreshed(query: Query) -> CheckFailure | None:
    rows = query(
        "SELECT DISTINCT tenant_name FROM (SELECT t.tenant_id, t.tenant_name, s.svr_ip, s.svr_port"
        " FROM oceanbase.DBA_OB_TENANTS t, oceanbase.DBA_OB_SERVERS s) ts"
        " LEFT JOIN oceanbase.GV$OB_SERVER_SCHEMA_INFO os ON ts.tenant_id = os.tenant_id"
        " AND ts.svr_ip = os.svr_ip AND ts.svr_port = os.svr_port"
        " WHERE os.refreshed_schema_version IS NULL OR os.refreshed_schema_version <= 1"
        " OR os.refreshed_schema_version % 8 != 0"
    )
    if rows:
        names = ", ".join(str(row[0]) for row in rows)
        return CheckFailure("OB.Upgrade.TenantsSchemaNotRefreshed", f"There are tenants with unrefreshed schema: {names}")
    return None


def check_no_tablet_merging(query: Query) -> CheckFailure | None:
    merging = _count(query, "SELECT count(1) FROM oceanbase.__all_virtual_tablet_compaction_info"
                            " WHERE max_received_scn > finished_scn AND max_received_scn > 0")
    if merging:
        return CheckFailure("OB.Upgrade.TabletInMerging", f"There are {merging} tablets merging")
    return None


def check_no_major_compaction(query: Query) -> CheckFailure | None:
    merging = _count(query, "SELECT count(*) FROM oceanbase.CDB_OB_MAJOR_COMPACTION WHERE STATUS != 'IDLE'")
    if merging:
        return CheckFailure("OB.Upgrade.TenantInMajorCompaction", f"There are {merging} tenants in major compaction")
    return None


def _version_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return ()


def check_data_versions_in_sync(query: Query) -> list[CheckFailure]:
    values = [str(row[0]) for row in query(
        "SELECT DISTINCT VALUE FROM oceanbase.GV$OB_PARAMETERS WHERE NAME = 'min_observer_version'")]
    if len(values) > 1:
        return [CheckFailure("OB.Upgrade.MinObserverVersionNotSync",
                             f"min_observer_version is not in sync: {', '.join(sorted(values))}")]
    # Compared as versions, not strings (obshell compares the text).
    if values and _version_tuple(values[0]) < (4, 3, 3, 0):
        compatible = [str(row[0]) for row in query(
            "SELECT DISTINCT VALUE FROM oceanbase.GV$OB_PARAMETERS WHERE NAME = 'compatible'")]
        if len(compatible) > 1:
            return [CheckFailure("OB.Upgrade.TenantCompatibleNotSync",
                                 f"Tenant compatible is not in sync: {', '.join(sorted(compatible))}")]
    return []


def check_no_backup_job(query: Query) -> CheckFailure | None:
    jobs = _count(query, "SELECT count(1) FROM oceanbase.CDB_OB_BACKUP_JOBS")
    if jobs:
        return CheckFailure("OB.Upgrade.HasRunningBackupTask",
                            f"There are {jobs} running backup tasks, upgrade is not allowed temporarily")
    return None


def check_mode(mode: str, query: Query) -> CheckFailure | None:
    """ROLLING needs at least 3 zones (2 in shared-storage mode); STOPSERVICE needs nothing."""
    if mode != "ROLLING":
        return None
    zones = _count(query, "SELECT count(*) FROM oceanbase.DBA_OB_ZONES")
    rows = query("SELECT VALUE FROM oceanbase.GV$OB_PARAMETERS WHERE NAME = 'ob_startup_mode'")
    shared = bool(rows) and str(rows[0][0]).upper() == "SHARED_STORAGE"
    needed = ROLLING_MIN_ZONES_SHARED_STORAGE if shared else ROLLING_MIN_ZONES
    if zones < needed:
        return CheckFailure("OB.Upgrade.UnableToRollingUpgrade",
                            f"Rolling upgrade requires at least {needed} zones, the cluster has {zones}; use STOPSERVICE")
    return None


def cluster_state_failures(query: Query, mode: str) -> list[CheckFailure]:
    """Every check that reads the cluster's state, all run, failures collected."""
    failures = [
        check_mode(mode, query),
        check_schema_refreshed(query),
        check_no_tablet_merging(query),
        check_no_major_compaction(query),
        check_no_backup_job(query),
    ]
    return [f for f in failures if f is not None] + check_data_versions_in_sync(query)


# --- agents and observers -----------------------------------------------------------------

@dataclass(frozen=True)
class AgentFacts:
    address: str  # ip:port
    serving: bool  # agent state RUNNING
    ob_state: int
    sql_address: str  # ip:sql_port


def agent_failures(agents: Sequence[AgentFacts], missing: Sequence[str] = ()) -> list[CheckFailure]:
    failures = []
    down = [a.address for a in agents if not a.serving] + list(missing)
    if down:
        failures.append(CheckFailure("Agent.Unavailable", f"Agent {', '.join(down)} is not available"))
    unavailable = [a.sql_address for a in agents if a.serving and a.ob_state != 3]
    if unavailable:
        failures.append(CheckFailure("OB.Server.Unavailable", f"Observer {', '.join(unavailable)} is not available"))
    return failures


# --- the upgrade directory ----------------------------------------------------------------

def check_upgrade_dir_syntax(upgrade_dir: str) -> CheckFailure | None:
    """The one rule for an ``upgradeDir`` as written (``wire.upgrade.upgrade_dir_problem``)."""
    problem = upgrade_dir_problem(upgrade_dir)
    return CheckFailure("Common.InvalidPath", problem) if problem is not None else None


def check_upgrade_dir(upgrade_dir: str, required_bytes: int = 0) -> CheckFailure | None:
    """:func:`check_upgrade_dir_syntax`, then (where the directory exists, else its nearest
    existing parent) writable with room for the packages."""
    path = upgrade_dir.strip()
    syntax = check_upgrade_dir_syntax(path)
    if syntax is not None or not path:
        return syntax
    existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        return CheckFailure("Common.PermissionDenied", f"Path '{path}' is not writable ({existing} cannot be written)")
    free = shutil.disk_usage(existing).free
    if required_bytes and free < required_bytes:
        return CheckFailure("Environment.DiskSpaceNotEnough",
                            f"Path '{path}' has {free} bytes free, the packages need {required_bytes}")
    return None
