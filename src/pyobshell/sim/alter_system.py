"""``ALTER SYSTEM …`` statements of the simulated observer, with OceanBase's rules and errors.

Each statement is matched by a regular expression and handled by one small function that
changes the shared state in one transaction (reference: oceanbase-upgrade-internals §2.12, §5.4).
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from pyobshell.sim import event_history, log_streams, sql_errors as err
from pyobshell.sim.cluster_state import cluster_parameters, tenant_parameters
from pyobshell.sim.server_health import FAULT_UPGRADE_JOB_FAILS, ServerLive, fault_value, load_faults
from pyobshell.sim.settings import SimSettings
from pyobshell.sim.sql_functions import now_us

_NAME = r"""(?:'[^']*'|"[^"]*"|`[^`]*`|[\w$.]+)"""
_ADDR_LIST = rf"(?:\(\s*{_NAME}(?:\s*,\s*{_NAME})*\s*\)|{_NAME}(?:\s*,\s*{_NAME})*)"
_UPGRADE_JOBS = {
    "UPGRADE_ALL", "UPGRADE_VIRTUAL_SCHEMA", "UPGRADE_SYSTEM_VARIABLE", "UPGRADE_SYSTEM_TABLE",
    "UPGRADE_BEGIN_DATA_VERSION", "UPGRADE_END_DATA_VERSION", "UPGRADE_SYSTEM_PACKAGE",
}
_TENANT_PARAMS = set(tenant_parameters("0.0.0.0"))
_CLUSTER_PARAMS = set(cluster_parameters("0.0.0.0"))


@dataclass
class SystemContext:
    """What a handler needs: the system connection, timings, and the live view of servers."""

    conn: sqlite3.Connection
    settings: SimSettings
    refresh: Callable[[], list[ServerLive]]
    query_timeout_us: int = 10_000_000
    statement: str = ""  # the statement as sent, for the event history's sql_text


def unquote(token: str) -> str:
    token = token.strip()
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"`":
        return token[1:-1]
    return token


def _names(text: str) -> list[str]:
    return [unquote(t) for t in re.findall(_NAME, text.strip().strip("()"))]


class _Tx:
    """BEGIN IMMEDIATE … COMMIT on the system connection (ROLLBACK on error)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if kind else "COMMIT")


def rs_server(ctx: SystemContext) -> sqlite3.Row | None:
    """The server the root service runs on (its address and build), None if none is alive."""
    rs = next((live for live in ctx.refresh() if live.is_rs), None)
    if rs is None:
        return None
    return ctx.conn.execute("SELECT svr_ip, svr_port, version, build_version FROM __sim_server WHERE id = ?", (rs.id,)).fetchone()


def _rs_address(ctx: SystemContext) -> tuple[str, int] | None:
    row = rs_server(ctx)
    return (row["svr_ip"], row["svr_port"]) if row is not None else None


def _recorded(ctx: SystemContext, event: str, detail: tuple[str, object], action: Callable[[], None]) -> None:
    """Run ``action`` and log it in the root service's event history, failed or not, as
    ``ObRootService`` does for each administrative command: (ret, code) then one detail."""
    try:
        action()
    except err.SqlError as error:
        _log_command(ctx, event, detail, error)
        raise
    _log_command(ctx, event, detail, None)


def _log_command(ctx: SystemContext, event: str, detail: tuple[str, object], failure: err.SqlError | None) -> None:
    with _Tx(ctx.conn):
        event_history.rootservice_event(ctx.conn, "root_service", event,
                                        [("ret", event_history.ob_return_code(failure)), detail], _rs_address(ctx))


def _zone_event(ctx: SystemContext, event: str, zone: str) -> None:
    """The zone manager's own row, written only when the zone's status changed."""
    event_history.rootservice_event(ctx.conn, "zone", event, [("zone", zone)], _rs_address(ctx))


def _min_cluster_version(ctx: SystemContext) -> str:
    """GET_MIN_CLUSTER_VERSION(): the cluster's min_observer_version as it is now."""
    row = ctx.conn.execute(
        "SELECT CASE WHEN pending_value IS NOT NULL AND sim_now_us() >= pending_at_us THEN pending_value ELSE value END"
        " FROM __sim_param WHERE name = 'min_observer_version' ORDER BY svr_ip, svr_port LIMIT 1").fetchone()
    return str(row[0]) if row else ""


# --- zones and servers -------------------------------------------------------------------

def stop_zone(ctx: SystemContext, zone: str, force: bool) -> None:
    _recorded(ctx, "stop_zone", ("sql_text", ctx.statement), lambda: _stop_zone(ctx, zone, force))


def start_zone(ctx: SystemContext, zone: str) -> None:
    _recorded(ctx, "start_zone", ("sql_text", ctx.statement), lambda: _start_zone(ctx, zone))


def _stop_zone(ctx: SystemContext, zone: str, force: bool) -> None:
    lives = {live.id: live for live in ctx.refresh()}
    conn = ctx.conn
    row = conn.execute("SELECT status FROM __sim_zone WHERE zone = ?", (zone,)).fetchone()
    if row is None:
        raise err.entry_not_exist("zone not exist")
    servers = conn.execute("SELECT id, zone, stop_time_us FROM __sim_server").fetchall()
    active = row["status"].upper() == "ACTIVE"
    if active:
        other_inactive = conn.execute(
            "SELECT count(*) FROM __sim_zone WHERE status = 'INACTIVE' AND zone != ?", (zone,)).fetchone()[0]
        other_stopped = any(s["zone"] != zone and s["stop_time_us"] > 0 for s in servers)
        if other_inactive or other_stopped:
            raise err.stop_in_multiple_zones()
    if not force and any(s["zone"] == zone for s in servers):
        replicas = len(servers)
        in_sync_outside = sum(1 for s in servers if s["zone"] != zone and lives[s["id"]].in_sync)
        has_leader = any(live.is_rs for live in lives.values())
        if not has_leader or in_sync_outside <= replicas / 2:
            raise err.op_not_allowed("log stream majority is not in sync outside the zone, stop zone")
    if not active:
        return
    if conn.execute("SELECT count(*) FROM __sim_zone WHERE status = 'ACTIVE'").fetchone()[0] <= 1:
        raise err.op_not_allowed()
    with _Tx(conn):
        now = now_us()  # the zone's leaders move one switch delay after this (log_streams)
        conn.execute("UPDATE __sim_zone SET status = 'INACTIVE', modify_us = ? WHERE zone = ?", (now, zone))
        _zone_event(ctx, "stop_zone", zone)
        log_streams.record(conn, now, "stop_zone", info=zone)


def _start_zone(ctx: SystemContext, zone: str) -> None:
    conn = ctx.conn
    row = conn.execute("SELECT status FROM __sim_zone WHERE zone = ?", (zone,)).fetchone()
    if row is None:
        raise err.entry_not_exist("Entry not exist")
    if row["status"].upper() == "ACTIVE":
        raise err.zone_status_not_match()
    with _Tx(conn):
        now = now_us()
        conn.execute("UPDATE __sim_zone SET status = 'ACTIVE', modify_us = ? WHERE zone = ?", (now, zone))
        _zone_event(ctx, "start_zone", zone)
        log_streams.record(conn, now, "start_zone", info=zone)


def _server_ids(conn: sqlite3.Connection, addresses: list[str]) -> list[sqlite3.Row]:
    rows = []
    for address in addresses:
        ip, _, port = address.rpartition(":")
        row = conn.execute("SELECT id, zone FROM __sim_server WHERE svr_ip = ? AND svr_port = ?",
                           (ip, int(port) if port.isdigit() else -1)).fetchone()
        if row is None:
            raise err.entry_not_exist(f"server {address} not exist")
        rows.append(row)
    return rows


def stop_server(ctx: SystemContext, addresses: list[str]) -> None:
    conn = ctx.conn
    rows = _server_ids(conn, addresses)
    zones = {row["zone"] for row in rows}
    other_inactive = conn.execute("SELECT zone FROM __sim_zone WHERE status = 'INACTIVE'").fetchall()
    other_stopped = conn.execute("SELECT DISTINCT zone FROM __sim_server WHERE stop_time_us > 0").fetchall()
    if len(zones) > 1 or {r[0] for r in (*other_inactive, *other_stopped)} - zones:
        raise err.stop_in_multiple_zones()
    with _Tx(conn):
        conn.executemany("UPDATE __sim_server SET stop_time_us = ? WHERE id = ? AND stop_time_us = 0",
                         [(now_us(), row["id"]) for row in rows])


def start_server(ctx: SystemContext, addresses: list[str]) -> None:
    rows = _server_ids(ctx.conn, addresses)
    with _Tx(ctx.conn):
        ctx.conn.executemany("UPDATE __sim_server SET stop_time_us = 0 WHERE id = ?", [(row["id"],) for row in rows])


def switch_leader(ctx: SystemContext, ls_id: int, server: str, tenant: str | None) -> None:
    """``SWITCH REPLICA LEADER LS = n SERVER = 'ip:port' [TENANT = t]``: the leader moves after
    the switch delay (asynchronously, as in OceanBase), unless it is stuck."""
    ids = tenant_ids(ctx.conn, tenant)
    if len(ids) != 1:
        raise err.invalid_argument("switch replica leader with several tenants")
    lives = ctx.refresh()
    with _Tx(ctx.conn):
        try:
            log_streams.request_switch(ctx.conn, lives, ids[0], ls_id, server, ctx.settings.leader_switch_delay, now_us())
        except log_streams.SwitchRefused as refused:
            raise (err.entry_not_exist(str(refused)) if refused.kind == "not_exist" else err.op_not_allowed(str(refused)))


# --- parameters --------------------------------------------------------------------------

_SET_PENDING = (
    "value = CASE WHEN pending_value IS NOT NULL AND sim_now_us() >= pending_at_us THEN pending_value ELSE value END, "
    "pending_value = ?, pending_at_us = ?"
)


def set_cluster_param(ctx: SystemContext, name: str, value: str, server: str | None = None, zone: str | None = None) -> None:
    conn = ctx.conn
    effective_at = now_us() + int(ctx.settings.param_delay * 1_000_000)
    where, args = "name = ?", [name]
    if server:
        ip, _, port = server.rpartition(":")
        where += " AND svr_ip = ? AND svr_port = ?"
        args += [ip, int(port) if port.isdigit() else -1]
    if zone:
        where += " AND (svr_ip, svr_port) IN (SELECT svr_ip, svr_port FROM __sim_server WHERE zone = ?)"
        args.append(zone)
    with _Tx(conn):
        changed = conn.execute(f"UPDATE __sim_param SET {_SET_PENDING} WHERE {where}", (value, effective_at, *args)).rowcount
        if not changed and (server or zone):
            raise err.entry_not_exist(f"server or zone not exist: {server or zone}")
        conn.execute("INSERT OR REPLACE INTO __sim_explicit_param (name, value) VALUES (?, ?)", (name, value))


def tenant_ids(conn: sqlite3.Connection, selector: str | None) -> list[int]:
    """``TENANT = sys | all | all_user | all_meta | <name>`` → tenant ids."""
    kinds = {"sys": "SYS", "all_user": "USER", "all_meta": "META"}
    key = (selector or "sys").lower()
    if key == "all":
        rows = conn.execute("SELECT tenant_id FROM __sim_tenant").fetchall()
    elif key in kinds:
        rows = conn.execute("SELECT tenant_id FROM __sim_tenant WHERE tenant_type = ?", (kinds[key],)).fetchall()
    else:
        rows = conn.execute("SELECT tenant_id FROM __sim_tenant WHERE lower(tenant_name) = ?", (key,)).fetchall()
        if not rows:
            raise err.SqlError(5157, f"Unknown tenant '{selector}'")
    return [row[0] for row in rows]


def set_tenant_param(ctx: SystemContext, name: str, value: str, tenant: str | None) -> None:
    conn = ctx.conn
    ids = tenant_ids(conn, tenant)
    effective_at = now_us() + int(ctx.settings.param_delay * 1_000_000)
    with _Tx(conn):
        for tenant_id in ids:
            updated = conn.execute(f"UPDATE __sim_tenant_param SET {_SET_PENDING} WHERE tenant_id = ? AND name = ?",
                                   (value, effective_at, tenant_id, name)).rowcount
            if not updated:
                conn.execute("INSERT INTO __sim_tenant_param (tenant_id, name, value) VALUES (?, ?, ?)", (tenant_id, name, value))


def set_parameters(ctx: SystemContext, assignments: str, qualifier: str | None) -> None:
    pairs = re.findall(rf"([\w$.]+)\s*=\s*({_NAME})", assignments)
    if not pairs:
        raise err.syntax_error(assignments)
    scope = _qualifier(qualifier)
    for name, raw in pairs:
        name, value = name.lower(), unquote(raw)
        if name in _TENANT_PARAMS:
            set_tenant_param(ctx, name, value, scope.get("tenant"))
        elif name in _CLUSTER_PARAMS or ctx.conn.execute("SELECT 1 FROM __sim_param WHERE name = ?", (name,)).fetchone():
            set_cluster_param(ctx, name, value, scope.get("server"), scope.get("zone"))
        else:
            raise err.invalid_argument(f"alter system set {name}")


def _qualifier(text: str | None) -> dict[str, str]:
    scope: dict[str, str] = {}
    for key, raw in re.findall(rf"(SERVER|ZONE|TENANT)\s*=?\s*({_NAME})", text or "", re.IGNORECASE):
        scope[key.lower()] = unquote(raw)
    return scope


# --- upgrade mode and jobs ----------------------------------------------------------------

# The root service's build decides how END ROLLING UPGRADE behaves (ObAdminRollingUpgradeCmd):
# up to 4.2.1.2 it sets min_observer_version to the lowest server version at once, servers still
# on the old build or not; from 4.2.1.3 (4.2.1 BP3, and every later line) it first waits, at most
# rpc_timeout, until the lowest server version reaches its own version, else fails with OB_TIMEOUT.
END_ROLLING_UPGRADE_WAITS_FROM = (4, 2, 1, 3)
# The upgrade events name the root service's build_version from 4.2.1.1 (4.2.1 BP1) on.
UPGRADE_EVENTS_NAME_BUILD_FROM = (4, 2, 1, 1)
_STAGE_ARG = {"DBUPGRADE": "{stage:3}", "POSTUPGRADE": "{stage:4}"}  # ObAdminRollingUpgradeArg as logged


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _lowest_server_version(conn: sqlite3.Connection) -> str:
    """The lowest build among all servers, alive or not (the server tracer reads __all_server)."""
    return min((row[0] for row in conn.execute("SELECT version FROM __sim_server")), key=_version)


def _build_pair(ctx: SystemContext) -> list[tuple[str, object]]:
    rs = rs_server(ctx)
    if rs is None or _version(rs["version"]) < UPGRADE_EVENTS_NAME_BUILD_FROM:
        return []
    return [("build_version", rs["build_version"])]


def _upgrade_cmd(ctx: SystemContext, upgrade: bool) -> None:
    cluster_version = _min_cluster_version(ctx)
    set_cluster_param(ctx, "enable_upgrade_mode", "True" if upgrade else "False")
    set_cluster_param(ctx, "_upgrade_stage", "PREUPGRADE" if upgrade else "NONE")
    with _Tx(ctx.conn):
        event_history.cluster_event(ctx.conn, "UPGRADE", "BEGIN_UPGRADE" if upgrade else "END_UPGRADE",
                                    [("cluster_version", cluster_version), *_build_pair(ctx)])


def begin_upgrade(ctx: SystemContext) -> None:
    _recorded(ctx, "admin_upgrade_cmd", ("arg", "true"), lambda: _upgrade_cmd(ctx, True))


def end_upgrade(ctx: SystemContext) -> None:
    _recorded(ctx, "admin_upgrade_cmd", ("arg", "false"), lambda: _upgrade_cmd(ctx, False))


def _begin_rolling_upgrade(ctx: SystemContext) -> None:
    cluster_version = _min_cluster_version(ctx)
    set_cluster_param(ctx, "_upgrade_stage", "DBUPGRADE")
    with _Tx(ctx.conn):
        event_history.cluster_event(ctx.conn, "UPGRADE", "BEGIN_ROLLING_UPGRADE",
                                    [("cluster_version", cluster_version), *_build_pair(ctx)])


def begin_rolling_upgrade(ctx: SystemContext) -> None:
    _recorded(ctx, "admin_rolling_upgrade_cmd", ("arg", _STAGE_ARG["DBUPGRADE"]), lambda: _begin_rolling_upgrade(ctx))


def _wait_for_own_version(ctx: SystemContext, own: tuple[int, ...]) -> str:
    """The lowest server version once it equals the root service's own (polled every 100 ms,
    as OceanBase does); 4016 if it is higher, 4012 after rpc_timeout."""
    deadline = time.monotonic() + ctx.settings.rpc_timeout
    while True:
        lowest = _lowest_server_version(ctx.conn)
        if _version(lowest) > own:
            raise err.unexpected()  # "min_observer_version is larger than CLUSTER_CURRENT_VERSION"
        if _version(lowest) == own:
            return lowest
        if time.monotonic() >= deadline:
            raise err.ob_timeout(int(ctx.settings.rpc_timeout * 1_000_000))
        time.sleep(0.1)


def _end_rolling_upgrade(ctx: SystemContext) -> None:
    rs = rs_server(ctx)
    if rs is None:  # cannot happen while the answering observer itself is alive
        raise err.unexpected()
    ori_cluster_version = _min_cluster_version(ctx)
    own = _version(rs["version"])
    if own >= END_ROLLING_UPGRADE_WAITS_FROM:
        lowest = _wait_for_own_version(ctx, own)
    else:
        lowest = _lowest_server_version(ctx.conn)
    set_cluster_param(ctx, "_upgrade_stage", "POSTUPGRADE")
    set_cluster_param(ctx, "min_observer_version", lowest)
    with _Tx(ctx.conn):
        event_history.cluster_event(ctx.conn, "UPGRADE", "END_ROLLING_UPGRADE",
                                    [("cluster_version", lowest), ("ori_cluster_version", ori_cluster_version),
                                     *_build_pair(ctx)])


def end_rolling_upgrade(ctx: SystemContext) -> None:
    _recorded(ctx, "admin_rolling_upgrade_cmd", ("arg", _STAGE_ARG["POSTUPGRADE"]), lambda: _end_rolling_upgrade(ctx))


def _binary_versions(conn: sqlite3.Connection) -> list[tuple[tuple[int, ...], str, str]]:
    rows = conn.execute("SELECT version, release FROM __sim_server").fetchall()
    return [(tuple(int(p) for p in r["version"].split(".")), r["release"].split(".")[0], r["version"]) for r in rows]


def run_upgrade_job(ctx: SystemContext, job: str) -> None:
    conn = ctx.conn
    now = now_us()
    if conn.execute("SELECT 1 FROM __sim_job WHERE finish_at_us > ?", (now,)).fetchone():
        raise err.op_not_allowed()
    newest = max(_binary_versions(conn))[2]
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", job):
        known = {v[2] for v in _binary_versions(conn)}
        if job not in known:
            raise err.not_supported("run upgrade job with such version is")
        job_type, extra, target = "RUN_UPGRADE_POST_JOB", job, job
    elif job.upper() in _UPGRADE_JOBS:
        job_type, extra, target = job.upper(), "", newest
    else:
        raise err.invalid_argument("run upgrade job")
    fails = fault_value(load_faults(conn), FAULT_UPGRADE_JOB_FAILS, "") is not None
    finish_at = now + int(ctx.settings.job_delay * 1_000_000)
    rs_addr = _rs_address(ctx) or tuple(conn.execute("SELECT svr_ip, svr_port FROM __sim_server WHERE id = 1").fetchone())
    with _Tx(conn):
        conn.execute(
            "INSERT INTO __sim_job (job_type, final_status, finish_at_us, rs_svr_ip, rs_svr_port, gmt_create_us, extra_info,"
            " target_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (job_type, "FAILED" if fails else "SUCCESS", finish_at, rs_addr[0], rs_addr[1], now, extra, target),
        )
        if not fails and job_type in ("UPGRADE_ALL", "RUN_UPGRADE_POST_JOB"):
            conn.execute(
                f"UPDATE __sim_tenant_param SET {_SET_PENDING} WHERE name = 'compatible'", (target, finish_at))


def run_job(ctx: SystemContext, job: str) -> None:
    if job.lower() != "root_inspection":
        raise err.invalid_argument("run job")
    with _Tx(ctx.conn):
        ctx.conn.executemany("INSERT OR REPLACE INTO __sim_inspection (name, info) VALUES (?, 'succeed')",
                             [(name,) for name in ("sys_stat", "sys_param", "sys_table_schema", "data_version")])


# --- merges and freezes -------------------------------------------------------------------

def suspend_merge(ctx: SystemContext, suspend: bool, qualifier: str | None) -> None:
    ids = tenant_ids(ctx.conn, _qualifier(qualifier).get("tenant", "all"))
    with _Tx(ctx.conn):
        ctx.conn.executemany("UPDATE __sim_merge SET suspended = ? WHERE tenant_id = ?", [(int(suspend), t) for t in ids])


def major_freeze(ctx: SystemContext, qualifier: str | None) -> None:
    ids = tenant_ids(ctx.conn, _qualifier(qualifier).get("tenant", "all"))
    busy_until = now_us() + int(ctx.settings.job_delay * 1_000_000)
    with _Tx(ctx.conn):
        ctx.conn.executemany(
            "UPDATE __sim_merge SET frozen_scn = frozen_scn + 1, last_scn = frozen_scn + 1, busy_until_us = ? WHERE tenant_id = ?",
            [(busy_until, t) for t in ids])


def minor_freeze(ctx: SystemContext, qualifier: str | None) -> None:
    lives = {live.id: live for live in ctx.refresh()}
    servers = ctx.conn.execute("SELECT id, svr_ip, svr_port, zone FROM __sim_server").fetchall()
    match = re.search(rf"SERVER\s*=?\s*({_ADDR_LIST})", qualifier or "", re.IGNORECASE)
    zone = _qualifier(qualifier).get("zone")
    if match:
        wanted = set(_names(match.group(1)))
        known = {f"{s['svr_ip']}:{s['svr_port']}" for s in servers}
        if wanted - known:
            raise err.entry_not_exist(f"server not exist: {', '.join(sorted(wanted - known))}")
        servers = [s for s in servers if f"{s['svr_ip']}:{s['svr_port']}" in wanted]
    if zone:
        servers = [s for s in servers if s["zone"] == zone]
    effective_at = now_us() + int(ctx.settings.freeze_delay * 1_000_000)
    with _Tx(ctx.conn):
        for server in servers:
            if not lives[server["id"]].alive:
                continue  # OceanBase skips inactive servers
            ctx.conn.execute(
                "UPDATE __sim_checkpoint SET value = CASE WHEN pending_value IS NOT NULL AND sim_now_us() >= pending_at_us"
                " THEN pending_value ELSE value END, pending_value = CASE WHEN pending_value IS NOT NULL AND"
                " sim_now_us() >= pending_at_us THEN pending_value ELSE value END + 1000, pending_at_us = ?"
                " WHERE svr_ip = ? AND svr_port = ?", (effective_at, server["svr_ip"], server["svr_port"]))


# --- dispatch -----------------------------------------------------------------------------

_Handler = Callable[[SystemContext, re.Match[str]], None]

_STATEMENTS: list[tuple[re.Pattern[str], _Handler]] = [
    (re.compile(rf"(?P<force>FORCE\s+)?STOP\s+ZONE\s+(?P<zone>{_NAME})"),
     lambda c, m: stop_zone(c, unquote(m["zone"]), bool(m["force"]))),
    (re.compile(rf"START\s+ZONE\s+(?P<zone>{_NAME})"), lambda c, m: start_zone(c, unquote(m["zone"]))),
    (re.compile(rf"STOP\s+SERVER\s+(?P<servers>{_ADDR_LIST})(?:\s+ZONE\s*=?\s*{_NAME})?"),
     lambda c, m: stop_server(c, _names(m["servers"]))),
    (re.compile(rf"START\s+SERVER\s+(?P<servers>{_ADDR_LIST})(?:\s+ZONE\s*=?\s*{_NAME})?"),
     lambda c, m: start_server(c, _names(m["servers"]))),
    (re.compile(rf"SWITCH\s+REPLICA\s+LEADER\s+LS\s*=?\s*(?P<ls>\d+)\s+SERVER\s*=?\s*(?P<server>{_NAME})"
                rf"(?:\s+TENANT\s*=?\s*(?P<tenant>{_NAME}))?"),
     lambda c, m: switch_leader(c, int(m["ls"]), unquote(m["server"]), unquote(m["tenant"]) if m["tenant"] else None)),
    (re.compile(r"BEGIN\s+UPGRADE"), lambda c, m: begin_upgrade(c)),
    (re.compile(r"BEGIN\s+ROLLING\s+UPGRADE"), lambda c, m: begin_rolling_upgrade(c)),
    (re.compile(r"END\s+ROLLING\s+UPGRADE"), lambda c, m: end_rolling_upgrade(c)),
    (re.compile(r"END\s+UPGRADE"), lambda c, m: end_upgrade(c)),
    (re.compile(rf"RUN\s+UPGRADE\s+JOB\s+(?P<job>{_NAME})"), lambda c, m: run_upgrade_job(c, unquote(m["job"]))),
    (re.compile(rf"RUN\s+JOB\s+(?P<job>{_NAME})(?:\s+(?:SERVER|ZONE)\s*=?\s*{_NAME})?"),
     lambda c, m: run_job(c, unquote(m["job"]))),
    (re.compile(r"(?P<op>SUSPEND|RESUME)\s+MERGE(?P<q>\s+.*)?"),
     lambda c, m: suspend_merge(c, m["op"].upper() == "SUSPEND", m["q"])),
    (re.compile(r"MAJOR\s+FREEZE(?P<q>\s+.*)?"), lambda c, m: major_freeze(c, m["q"])),
    (re.compile(r"MINOR\s+FREEZE(?P<q>\s+.*)?"), lambda c, m: minor_freeze(c, m["q"])),
    (re.compile(rf"SET\s+(?P<a>[\w$.]+\s*=\s*{_NAME}(?:\s*,\s*[\w$.]+\s*=\s*{_NAME})*)(?P<q>\s+(?:SERVER|ZONE|TENANT)\b.*)?"),
     lambda c, m: set_parameters(c, m["a"], m["q"])),
]

ALTER_SYSTEM = re.compile(r"^\s*ALTER\s+SYSTEM\s+(?P<rest>.*?)\s*;?\s*$", re.IGNORECASE | re.DOTALL)


def execute(ctx: SystemContext, statement: str) -> None:
    """Run one ``ALTER SYSTEM`` statement; raises :class:`SqlError` with OceanBase's code."""
    match = ALTER_SYSTEM.match(statement)
    if not match:
        raise err.syntax_error(statement)
    rest = match["rest"]
    ctx.statement = statement.strip().rstrip(";").strip()
    for pattern, handler in _STATEMENTS:
        found = re.fullmatch(pattern.pattern, rest, re.IGNORECASE | re.DOTALL)
        if found:
            handler(ctx, found)
            return
    raise err.syntax_error(rest)
