"""Synchronous pre-checks of ``POST /api/v1/ob/upgrade`` (obshell-upgrade reference §2, §3).

Unlike obshell, which stops at the first failure, every check runs and every failure is
reported at once, each with its own code, so an operator fixes them in one round.
Each check is a small function over what ``ob/`` reads of the cluster (root@sys) or over plain
facts; it returns a :class:`CheckFailure` or ``None``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import psutil

from pyobshell.errors import ErrorCode, ErrorKind
from pyobshell.ob import health, parameters, zones
from pyobshell.ob.sql import Sql
from pyobshell.errors import ObshellError
from pyobshell.upgrade.packages.space import space_needed
from pyobshell.upgrade.plan import AgentFacts, UpgradeInputs, plan_upgrade
from pyobshell.wire.upgrade import UpgradeMode, UpgradePlan, upgrade_dir_problem

PRECHECK_FAILED = ErrorCode("OB.Upgrade.PreCheckFailed", ErrorKind.BAD_REQUEST, "Upgrade pre-check failed: {}")
PYTHON_CHECK_TIMEOUT_S = 30
_ROLLING_CODE = "OB.Upgrade.UnableToRollingUpgrade"
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


# --- cluster state (SQL through ob/) -------------------------------------------------------

def check_schema_refreshed(sql: Sql) -> CheckFailure | None:
    names = health.tenants_with_unrefreshed_schema(sql)
    if names:
        return CheckFailure("OB.Upgrade.TenantsSchemaNotRefreshed",
                            f"There are tenants with unrefreshed schema: {', '.join(names)}")
    return None


def check_no_tablet_merging(sql: Sql) -> CheckFailure | None:
    merging = health.merging_tablets(sql)
    if merging:
        return CheckFailure("OB.Upgrade.TabletInMerging", f"There are {merging} tablets merging")
    return None


def check_no_major_compaction(sql: Sql) -> CheckFailure | None:
    merging = health.tenants_in_major_compaction(sql)
    if merging:
        return CheckFailure("OB.Upgrade.TenantInMajorCompaction", f"There are {merging} tenants in major compaction")
    return None


def _version_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return ()


def check_data_versions_in_sync(sql: Sql) -> list[CheckFailure]:
    values = parameters.distinct_values(sql, "min_observer_version")
    if len(values) > 1:
        return [CheckFailure("OB.Upgrade.MinObserverVersionNotSync",
                             f"min_observer_version is not in sync: {', '.join(sorted(values))}")]
    # Compared as versions, not strings (obshell compares the text).
    if values and _version_tuple(values[0]) < (4, 3, 3, 0):
        compatible = parameters.distinct_values(sql, "compatible")
        if len(compatible) > 1:
            return [CheckFailure("OB.Upgrade.TenantCompatibleNotSync",
                                 f"Tenant compatible is not in sync: {', '.join(sorted(compatible))}")]
    return []


def check_no_backup_job(sql: Sql) -> CheckFailure | None:
    jobs = health.running_backup_jobs(sql)
    if jobs:
        return CheckFailure("OB.Upgrade.HasRunningBackupTask",
                            f"There are {jobs} running backup tasks, upgrade is not allowed temporarily")
    return None


def check_mode(mode: UpgradeMode, sql: Sql) -> CheckFailure | None:
    """ROLLING needs at least 3 zones (2 in shared-storage mode); STOPSERVICE needs nothing."""
    if mode is not UpgradeMode.ROLLING:
        return None
    count = zones.zone_count(sql)
    needed = ROLLING_MIN_ZONES_SHARED_STORAGE if parameters.startup_mode(sql) == "SHARED_STORAGE" else ROLLING_MIN_ZONES
    if count < needed:
        return CheckFailure("OB.Upgrade.UnableToRollingUpgrade",
                            f"Rolling upgrade requires at least {needed} zones, the cluster has {count}; use STOPSERVICE")
    return None


def check_zones_active(sql: Sql) -> CheckFailure | None:
    """A zone left stopped (e.g. by an earlier failed upgrade) must be started first."""
    stopped = zones.stopped_zones(sql)
    if stopped:
        return CheckFailure("OB.Upgrade.ZoneNotActive",
                            f"Zone {', '.join(stopped)} is not ACTIVE; start it (ALTER SYSTEM START ZONE) first")
    return None


def cluster_state_failures(sql: Sql, mode: UpgradeMode) -> list[CheckFailure]:
    """Every check that reads the cluster's state, all run, failures collected."""
    failures = [
        check_mode(mode, sql),
        check_schema_refreshed(sql),
        check_no_tablet_merging(sql),
        check_no_major_compaction(sql),
        check_no_backup_job(sql),
        check_zones_active(sql),
    ]
    return [f for f in failures if f is not None] + check_data_versions_in_sync(sql)


# --- agents and observers -----------------------------------------------------------------

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
    if not existing.is_dir():
        return CheckFailure("Common.PermissionDenied", f"Path '{path}' cannot be made: {existing} is a file, "
                                                       f"not a directory")
    kind = _pseudo_filesystem(existing)
    if kind is not None:
        return CheckFailure("Common.InvalidPath", f"Path '{path}' is not a plain directory: {existing} is on the "
                                                  f"kernel's {kind} filesystem, which holds no files; choose a "
                                                  f"directory on a disk")
    if os.statvfs(existing).f_flag & os.ST_RDONLY:
        return CheckFailure("Common.PermissionDenied", f"Path '{path}' is not writable: {existing} is on a "
                                                       f"read-only filesystem")
    if not os.access(existing, os.W_OK | os.X_OK):
        return CheckFailure("Common.PermissionDenied", f"Path '{path}' is not writable ({existing} cannot be written)")
    free = shutil.disk_usage(existing).free
    if required_bytes and free < required_bytes:
        return CheckFailure("Environment.DiskSpaceNotEnough",
                            f"Path '{path}' has {free} bytes free, the packages need {required_bytes}")
    return None


# Kernel filesystems: writable to root by mode bits, yet no file can be made there (or it is
# not a file), and their "free space" is 0, which would otherwise read as a full disk.
_PSEUDO_FILESYSTEMS = frozenset({
    "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs",
    "pstore", "bpf", "configfs", "fusectl", "mqueue", "hugetlbfs", "binfmt_misc", "efivarfs",
    "rpc_pipefs", "nsfs", "autofs", "selinuxfs"})


def _pseudo_filesystem(directory: Path) -> str | None:
    """The kernel filesystem type holding ``directory`` (its deepest mount), or None."""
    resolved = str(directory.resolve())
    best, kind = "", None
    for part in psutil.disk_partitions(all=True):
        mount = part.mountpoint.rstrip("/") or "/"
        inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, kind = mount, part.fstype
    return kind if kind in _PSEUDO_FILESYSTEMS else None


# --- all of them ----------------------------------------------------------------------------

_PYTHON_OK_FOR_S = 300.0
_python_ok_at: dict[str, float] = {}  # interpreter -> when it last passed (an interpreter start costs ~0.3 s)


def check_python(python: str) -> CheckFailure | None:
    """The interpreter that will run the packages' scripts imports mysql.connector (a pass is
    remembered for a few minutes; a failure is checked again every time)."""
    passed = _python_ok_at.get(python)
    if passed is not None and time.monotonic() - passed < _PYTHON_OK_FOR_S:
        return None
    failure = _run_python_check(python)
    if failure is None:
        _python_ok_at[python] = time.monotonic()
    return failure


def _run_python_check(python: str) -> CheckFailure | None:
    try:
        result = subprocess.run([python, "-c", "import mysql.connector"], capture_output=True, text=True,
                                timeout=PYTHON_CHECK_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        return CheckFailure("Environment.WithoutPython", f"cannot run {python}: {error}")
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return CheckFailure("Environment.WithoutModule", f"{python} cannot import mysql.connector: {last}")
    return None


def _plan(inputs: UpgradeInputs) -> tuple[UpgradePlan | None, list[CheckFailure]]:
    """The plan; a mode the zones do not allow is already a collected failure, so the packages
    are still planned (as for stop-service) and reported with it."""
    upgrade = inputs.upgrade
    for attempt in (upgrade, replace(upgrade, mode=UpgradeMode.STOPSERVICE)):
        try:
            return plan_upgrade(attempt, inputs.facts, inputs.packages, inputs.route_file_text), []
        except ObshellError as error:
            if error.code != _ROLLING_CODE:
                return None, [CheckFailure(error.code, error.message)]
    return None, []


def run_prechecks(sql: Sql, inputs: UpgradeInputs, python: str) -> UpgradePlan:
    """Run every check; raise one 400 listing each failure, or return the plan to run."""
    failures = cluster_state_failures(sql, inputs.upgrade.mode)
    failures += [f for f in (check_python(python),) if f is not None]
    failures += agent_failures(inputs.agents, inputs.missing_agents)
    plan, plan_failures = _plan(inputs)
    failures += plan_failures
    if plan is not None and plan.missing_packages:
        failures.append(CheckFailure("OB.Package.NotExist",
                                     f"These packages are missing: {', '.join(plan.missing_packages)}"))
    if plan is not None:
        planned = {pp.pkg_id for hop in plan.route for pp in hop.packages}
        needed = space_needed(p for p in inputs.packages if p.pkg_id in planned)
        space = check_upgrade_dir(inputs.upgrade.upgrade_dir, required_bytes=needed)
        failures += [space] if space is not None else []
    raise_if_failed(failures)
    assert plan is not None  # no failure means a plan was made
    return plan
