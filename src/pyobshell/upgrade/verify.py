"""The checks that prove an upgrade finished (the obdiag maintainers' checklist, plus what the
upgrade itself changed): one build on every server, every server in service, no zone stopped,
``min_observer_version`` at the target, every tenant's ``compatible`` and core-table data
version at the target, ``enable_upgrade_mode`` off, the parameters the upgrade backed up back
to their values.

Each check is a small function of the cluster (read through ``ob/``) and an
:class:`Expectation`; it answers a :class:`~pyobshell.wire.report.ReportCheck`. An answer it
cannot use (no row, a NULL, a version that is not one, a failed statement) fails that check
with the reason, and never the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyobshell.errors import ObshellError
from pyobshell.ob import parameters, servers, tenants, zones
from pyobshell.ob.sql import Row, Sql
from pyobshell.upgrade.tasks.parameters import SAVED_PARAMETERS
from pyobshell.versions import BuildVersion, Version
from pyobshell.wire import report as names
from pyobshell.wire.report import ReportCheck

STANDBY = "STANDBY"  # a standby tenant's data version follows its primary's, not this cluster's upgrade
MAX_LISTED = 6


@dataclass(frozen=True)
class Expectation:
    """What the checks hold the cluster against. Without a target (``version`` None) the
    cluster must agree with itself: ``min_observer_version``, ``compatible`` and the data
    versions at the lowest server's build version."""

    version: str | None = None  # the target's four numbers, e.g. 4.2.1.1
    build: str | None = None  # its build number, e.g. 101000062023110109
    saved_parameters: Any = None  # the rows "Backup parameters" kept; None: no backup to compare with


class Unexpected(Exception):
    """The cluster answered something a check cannot use; the message says what."""


def run_checks(sql: Sql, expectation: Expectation) -> list[ReportCheck]:
    """Every check, in :data:`~pyobshell.wire.report.CHECK_NAMES` order."""
    version, why = expected_version(sql, expectation)
    return [
        _guarded(names.ONE_BUILD, lambda: one_build(sql, expectation)),
        _guarded(names.SERVERS_IN_SERVICE, lambda: servers_in_service(sql)),
        _guarded(names.ZONES_ACTIVE, lambda: zones_active(sql)),
        _guarded(names.MIN_OBSERVER_VERSION, lambda: min_observer_version(sql, version, why)),
        _guarded(names.TENANT_COMPATIBLE, lambda: tenant_compatible(sql, version, why)),
        _guarded(names.TENANT_DATA_VERSION, lambda: tenant_data_version(sql, version, why)),
        _guarded(names.UPGRADE_MODE_OFF, lambda: upgrade_mode_off(sql)),
        _guarded(names.PARAMETERS_RESTORED, lambda: parameters_restored(sql, expectation.saved_parameters)),
    ]


def _guarded(name: str, check: Callable[[], ReportCheck]) -> ReportCheck:
    try:
        return check()
    except ObshellError as exc:
        return ReportCheck(name=name, ok=False, detail=f"cannot read it: {exc.message}")
    except Unexpected as exc:
        return ReportCheck(name=name, ok=False, detail=f"unexpected answer: {exc}")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return ReportCheck(name=name, ok=False, detail=f"unexpected answer: {type(exc).__name__}: {exc}")


def expected_version(sql: Sql, expectation: Expectation) -> tuple[str | None, str]:
    """The version the cluster's data must be at, and where it comes from (or why it is unknown)."""
    if expectation.version is not None:
        return expectation.version, "the upgrade's target"
    try:
        builds = [_build(row) for row in servers.servers(sql)]
    except (ObshellError, Unexpected, KeyError) as exc:
        return None, f"no target, and the servers' builds cannot be read ({_reason(exc)})"
    if not builds:
        return None, "no target, and DBA_OB_SERVERS lists no server"
    return min(build.version for build in builds).number_string, "the lowest server build"


def one_build(sql: Sql, expectation: Expectation) -> ReportCheck:
    """Every server runs the same build (the target's, when there is one)."""
    rows = servers.servers(sql)
    if not rows:
        raise Unexpected("DBA_OB_SERVERS lists no server")
    by_build: dict[str, list[str]] = {}
    for row in rows:
        build = _build(row).version
        by_build.setdefault(f"{build.number_string}_{build.build}", []).append(_server(row))
    expected = f"{expectation.version}_{expectation.build}" if expectation.version and expectation.build else ""
    found = "; ".join(f"{build} on {_listed(where)}" for build, where in sorted(by_build.items()))
    ok = len(by_build) == 1 and (not expected or expected in by_build)
    detail = ""
    if len(by_build) > 1:
        detail = f"{len(by_build)} builds run in the cluster"
    elif not ok:
        detail = f"every server runs {next(iter(by_build))}, not the target {expected}"
    return ReportCheck(name=names.ONE_BUILD, ok=ok, expected=expected or "one build on every server",
                       found=found, detail=detail)


def servers_in_service(sql: Sql) -> ReportCheck:
    rows = servers.servers(sql)
    if not rows:
        raise Unexpected("DBA_OB_SERVERS lists no server")
    away = [f"{_server(row)} ({_why_not_serving(row)})" for row in rows if not servers.in_service(row)]
    return ReportCheck(name=names.SERVERS_IN_SERVICE, ok=not away, expected="every server ACTIVE and in service",
                       found=_listed(away) if away else f"{len(rows)} of {len(rows)} in service",
                       detail=f"{len(away)} server(s) not in service" if away else "")


def zones_active(sql: Sql) -> ReportCheck:
    rows = zones.zone_statuses(sql)
    if not rows:
        raise Unexpected("DBA_OB_ZONES lists no zone")
    stopped = [f"{zone} ({status})" for zone, status in rows if status.upper() != "ACTIVE"]
    return ReportCheck(name=names.ZONES_ACTIVE, ok=not stopped, expected="every zone ACTIVE",
                       found=_listed(stopped) if stopped else ", ".join(f"{zone} ACTIVE" for zone, _ in rows),
                       detail=f"stopped: {', '.join(z for z, s in rows if s.upper() != 'ACTIVE')}" if stopped else "")


def min_observer_version(sql: Sql, version: str | None, why: str) -> ReportCheck:
    values = _values_by_server(parameters.parameter_rows(sql, ["min_observer_version"]), "min_observer_version")
    found = _grouped(values)
    if version is None:
        return ReportCheck(name=names.MIN_OBSERVER_VERSION, ok=False, found=found, detail=why)
    wrong = {server: value for server, value in values.items() if _version_text(value) != version}
    return ReportCheck(name=names.MIN_OBSERVER_VERSION, ok=not wrong, expected=version, found=found,
                       detail=f"not {version} ({why}) on {_listed(list(wrong))}" if wrong else "")


def tenant_compatible(sql: Sql, version: str | None, why: str) -> ReportCheck:
    """Every tenant's ``compatible``, on every server, is the expected version (standby
    tenants excepted)."""
    checked = _checked_tenants(sql)
    values: dict[Any, set[str]] = {tenant_id: set() for tenant_id in checked}
    for row in tenants.compatible_values(sql):
        tenant_id = _tenant_id(row)
        if tenant_id in values:
            values[tenant_id].add(_version_text(row["VALUE"]))
    found = ", ".join(f"{checked[t]}={'/'.join(sorted(v)) or 'none'}" for t, v in values.items())
    missing = [checked[t] for t, v in values.items() if not v]
    split = [checked[t] for t, v in values.items() if len(v) > 1]
    problems = [f"no compatible for {', '.join(missing)}"] if missing else []
    problems += [f"servers disagree for {', '.join(split)}"] if split else []
    if version is None:
        problems.append(why)
    else:
        wrong = [checked[t] for t, v in values.items() if v and v != {version}]
        problems += [f"not {version} ({why}) for {', '.join(wrong)}"] if wrong else []
    return ReportCheck(name=names.TENANT_COMPATIBLE, ok=not problems, expected=version or "", found=found,
                       detail="; ".join(problems))


def tenant_data_version(sql: Sql, version: str | None, why: str) -> ReportCheck:
    """Every tenant's target and current data version in the core table is the expected version."""
    checked = _checked_tenants(sql)
    found_by: dict[Any, dict[str, str]] = {tenant_id: {} for tenant_id in checked}
    for row in tenants.data_versions(sql):
        tenant_id = _tenant_id(row)
        if tenant_id in found_by:
            column = str(row["COLUMN_NAME"]).lower()
            try:
                found_by[tenant_id][column] = tenants.decode_data_version(row["COLUMN_VALUE"])
            except ValueError as exc:
                raise Unexpected(f"{column} of tenant {checked[tenant_id]}: {exc}") from None
    found = ", ".join(f"{checked[t]}={'/'.join(sorted(set(v.values()))) or 'none'}" for t, v in found_by.items())
    problems = []
    missing = [f"{checked[t]} ({', '.join(c for c in tenants.DATA_VERSION_COLUMNS if c not in v)})"
               for t, v in found_by.items() if any(c not in v for c in tenants.DATA_VERSION_COLUMNS)]
    if missing:
        problems.append(f"no data version for {', '.join(missing)}")
    if version is None:
        problems.append(why)
    else:
        wrong = [checked[t] for t, v in found_by.items() if any(value != version for value in v.values())]
        problems += [f"not {version} ({why}) for {', '.join(wrong)}"] if wrong else []
    return ReportCheck(name=names.TENANT_DATA_VERSION, ok=not problems, expected=version or "", found=found,
                       detail="; ".join(problems))


def upgrade_mode_off(sql: Sql) -> ReportCheck:
    values = _values_by_server(parameters.parameter_rows(sql, ["enable_upgrade_mode"]), "enable_upgrade_mode")
    on = [server for server, value in values.items() if str(value).strip().lower() != "false"]
    return ReportCheck(name=names.UPGRADE_MODE_OFF, ok=not on, expected="False on every server",
                       found=_grouped(values), detail=f"enable_upgrade_mode is not False on {_listed(on)}" if on else "")


def parameters_restored(sql: Sql, saved: Any) -> ReportCheck:
    """The parameters "Backup parameters" saved have those values again."""
    expected_text = f"{', '.join(SAVED_PARAMETERS)} as backed up"
    if saved is None:
        return ReportCheck(name=names.PARAMETERS_RESTORED, ok=True, expected=expected_text,
                           detail="no parameter backup to compare with (no upgrade DAG took one)")
    if not isinstance(saved, list) or not all(isinstance(row, dict) for row in saved):
        raise Unexpected(f"the parameter backup is not a list of rows: {str(saved)[:80]}")
    now = {_parameter_key(row): row.get("VALUE") for row in parameters.parameter_rows(sql, SAVED_PARAMETERS)}
    wrong, backed_up = [], {}
    for row in saved:
        key = _parameter_key(row)
        backed_up[key[-1]] = str(row.get("VALUE"))
        if key not in now:
            wrong.append(f"{_describe_key(key)}: no value now (backed up {row.get('VALUE')})")
        elif str(now[key]) != str(row.get("VALUE")):
            wrong.append(f"{_describe_key(key)}: {now[key]}, backed up {row.get('VALUE')}")
    found = f"{len(saved) - len(wrong)} of {len(saved)} values as backed up"
    return ReportCheck(name=names.PARAMETERS_RESTORED, ok=not wrong,
                       expected=", ".join(f"{k}={v}" for k, v in sorted(backed_up.items())) or expected_text,
                       found=found, detail="; ".join(wrong[:MAX_LISTED]) + (" …" if len(wrong) > MAX_LISTED else ""))


# -- reading rows -----------------------------------------------------------------------------

def _build(row: Row) -> BuildVersion:
    value = row.get("BUILD_VERSION")
    try:
        return BuildVersion.parse(value)
    except ValueError:
        raise Unexpected(f"server {_server(row)} reports build {value!r}, not a build version") from None


def _server(row: Row) -> str:
    return f"{row.get('SVR_IP')}:{row.get('SVR_PORT')}"


def _why_not_serving(row: Row) -> str:
    if str(row.get("STATUS")).upper() != "ACTIVE":
        return str(row.get("STATUS"))
    return "stopped" if row.get("STOP_TIME") is not None else "not in service yet"


def _values_by_server(rows: list[Row], name: str) -> dict[str, Any]:
    if not rows:
        raise Unexpected(f"no server reports {name} (GV$OB_PARAMETERS)")
    values = {}
    for row in rows:
        if row.get("VALUE") is None:
            raise Unexpected(f"{name} is NULL on {_server(row)}")
        values[_server(row)] = row["VALUE"]
    return values


def _version_text(value: Any) -> str:
    """A parameter's version value, checked: ``4.2.1.1``; Unexpected if it is not one."""
    try:
        return Version.parse(value).number_string
    except ValueError:
        raise Unexpected(f"{value!r} is not a version") from None


def _checked_tenants(sql: Sql) -> dict[Any, str]:
    """Tenant id → name, of every tenant but the standby ones."""
    rows = tenants.tenants(sql)
    if not rows:
        raise Unexpected("DBA_OB_TENANTS lists no tenant")
    return {_tenant_id(row): str(row.get("TENANT_NAME")) for row in rows
            if str(row.get("TENANT_ROLE") or "").upper() != STANDBY}


def _tenant_id(row: Row) -> int:
    value = row.get("TENANT_ID")
    if isinstance(value, bool) or value is None or not str(value).strip().isdigit():
        raise Unexpected(f"tenant id {value!r} is not a number")
    return int(str(value).strip())


def _parameter_key(row: dict) -> tuple[str, str, str, str, str]:
    tenant = row.get("TENANT_ID")
    return (str(row.get("SVR_IP")), str(row.get("SVR_PORT")), str(row.get("SCOPE") or "").upper(),
            "" if tenant is None else str(tenant), str(row.get("NAME")))


def _describe_key(key: tuple[str, str, str, str, str]) -> str:
    ip, port, scope, tenant, name = key
    return f"{name} on {ip}:{port}" + (f" (tenant {tenant})" if scope == "TENANT" else "")


def _grouped(values: dict[str, Any]) -> str:
    """``False on every server (3)`` or ``True on a:1, b:2; False on c:3``."""
    by_value: dict[str, list[str]] = {}
    for server, value in values.items():
        by_value.setdefault(str(value), []).append(server)
    if len(by_value) == 1:
        return f"{next(iter(by_value))} on every server ({len(values)})"
    return "; ".join(f"{value} on {_listed(where)}" for value, where in sorted(by_value.items()))


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def _reason(exc: BaseException) -> str:
    return exc.message if isinstance(exc, ObshellError) else str(exc)
