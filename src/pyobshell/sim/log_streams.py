"""Log streams and their leaders in the simulated cluster, and the history of every handover.

Every tenant has log streams (sys: LS 1; the meta and user tenants: LS 1 and 1001) with a
replica on every server and one leader; the leader of the sys tenant's LS 1 hosts the root
service, as in OceanBase. Leaders move (reference: oceanbase-upgrade-internals §5.4):

* ``STOP ZONE``: every leader in the zone moves to a server of another ACTIVE zone one
  ``leader_switch_delay`` after the stop; none moves back into a stopped zone;
* a dead server (no heartbeat for a lease): its leaders move once the lease has run out;
* ``ALTER SYSTEM SWITCH REPLICA LEADER``: one leader moves after the switch delay;
* the ``leaders_stuck`` fault pins a server's leaders where they are (a leader that cannot
  hand over); once it is cleared, the pending moves happen one switch delay later.

As the rest of the simulator's time-dependent state, the moves are not made by a background
process: :func:`reconcile` runs before every system query and applies each move that is due,
writing it with the moment it became due, so whichever observer answers, and whenever, the
cluster looks the same. ``__sim_history`` records every leader change, every observer start
and kill (the kill at its last heartbeat), zone stops and starts, and fault switches, with
their times: tests check a whole upgrade against it (:func:`read_history`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

FAULT_LEADERS_STUCK = "leaders_stuck"
SYS_TENANT_ID = 1
ROOT_SERVICE_LS = (SYS_TENANT_ID, 1)  # the root service lives on the leader of sys LS 1

TABLES = """
CREATE TABLE IF NOT EXISTS __sim_ls (
    tenant_id INTEGER NOT NULL, ls_id INTEGER NOT NULL, leader_id INTEGER NOT NULL,
    switch_to_id INTEGER, switch_at_us INTEGER NOT NULL DEFAULT 0, create_us INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, ls_id));
CREATE TABLE IF NOT EXISTS __sim_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at_us INTEGER NOT NULL, kind TEXT NOT NULL,
    server_id INTEGER, tenant_id INTEGER, ls_id INTEGER, from_id INTEGER, info TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS __sim_history_kind ON __sim_history (kind, server_id);
CREATE TABLE IF NOT EXISTS __sim_exit (
    server_id INTEGER NOT NULL, start_us INTEGER NOT NULL, exit_us INTEGER NOT NULL,
    PRIMARY KEY (server_id, start_us));
"""

_LOCATIONS = """
        SELECT {tenant} sim_us_to_datetime(ls.create_us) AS CREATE_TIME, sim_us_to_datetime(ls.create_us) AS MODIFY_TIME,
               ls.ls_id AS LS_ID, s.svr_ip AS SVR_IP, s.svr_port AS SVR_PORT, s.sql_port AS SQL_PORT, s.zone AS ZONE,
               CASE WHEN s.id = ls.leader_id THEN 'LEADER' ELSE 'FOLLOWER' END COLLATE NOCASE AS ROLE,
               (SELECT group_concat(svr_ip || ':' || svr_port || ':1', ',') FROM __sim_server) AS MEMBER_LIST,
               (SELECT count(*) FROM __sim_server) AS PAXOS_REPLICA_NUMBER, 'FULL' AS REPLICA_TYPE,
               '' AS LEARNER_LIST, 'FALSE' AS REBUILD
        FROM __sim_ls ls CROSS JOIN __sim_server s {where}"""

_LS = """
        SELECT {tenant} ls.ls_id AS LS_ID, 'NORMAL' AS STATUS,
               (SELECT group_concat(zone, ';') FROM __sim_zone) AS PRIMARY_ZONE,
               CASE WHEN ls.ls_id = 1 THEN 0 ELSE 1001 END AS UNIT_GROUP_ID,
               CASE WHEN ls.ls_id = 1 THEN 0 ELSE 1001 END AS LS_GROUP_ID,
               1 AS CREATE_SCN, NULL AS DROP_SCN, 1000 AS SYNC_SCN, 1000 AS READABLE_SCN, '' AS FLAG
        FROM __sim_ls ls {where}"""

VIEWS: dict[str, str] = {
    "GV$OB_LOG_STAT": """
        SELECT ls.tenant_id AS TENANT_ID, ls.ls_id AS LS_ID, s.svr_ip AS SVR_IP, s.svr_port AS SVR_PORT,
               CASE WHEN s.id = ls.leader_id THEN 'LEADER' ELSE 'FOLLOWER' END COLLATE NOCASE AS ROLE,
               CASE WHEN l.in_sync = 1 THEN 'YES' ELSE 'NO' END COLLATE NOCASE AS IN_SYNC,
               (SELECT group_concat(svr_ip || ':' || svr_port || ':1', ',') FROM __sim_server) AS PAXOS_MEMBER_LIST,
               (SELECT count(*) FROM __sim_server) AS PAXOS_REPLICA_NUM,
               1000 AS MAX_SCN, 1000 AS END_SCN
        FROM __sim_ls ls CROSS JOIN __sim_server s JOIN __sim_live l ON l.id = s.id
        WHERE l.alive = 1""",
    # Seen from the sys tenant, the DBA_ views show the sys tenant's own log streams.
    "DBA_OB_LS_LOCATIONS": _LOCATIONS.format(tenant="", where=f"WHERE ls.tenant_id = {SYS_TENANT_ID}"),
    "CDB_OB_LS_LOCATIONS": _LOCATIONS.format(tenant="ls.tenant_id AS TENANT_ID,", where=""),
    "DBA_OB_LS": _LS.format(tenant="", where=f"WHERE ls.tenant_id = {SYS_TENANT_ID}"),
    "CDB_OB_LS": _LS.format(tenant="ls.tenant_id AS TENANT_ID,", where=""),
}


class Live(Protocol):
    """What reconciling needs of a server's derived state (``server_health.ServerLive``)."""

    id: int
    alive: bool
    serving: bool
    last_offline_us: int


@dataclass(frozen=True)
class HistoryEvent:
    at_us: int
    kind: str  # leader | start | kill | stop_zone | start_zone | fault_on | fault_off
    server: str  # ip:rpc_port ('' when none)
    zone: str
    tenant_id: int | None = None
    ls_id: int | None = None
    from_server: str = ""
    info: str = ""


# --- creating and recording ---------------------------------------------------------------

def log_stream_ids(tenant_type: str) -> tuple[int, ...]:
    return (1,) if tenant_type == "SYS" else (1, 1001)


def bootstrap(conn: sqlite3.Connection, tenants: Iterable[tuple[int, str]], servers_by_zone: Sequence[Sequence[int]],
              now: int) -> None:
    """One row per log stream, the leaders spread over the zones (sys LS 1, the root service,
    on the first server), so that every zone leads something."""
    streams = [(tenant_id, ls_id) for tenant_id, kind in tenants for ls_id in log_stream_ids(kind)]
    for index, (tenant_id, ls_id) in enumerate(streams):
        zone_servers = servers_by_zone[index % len(servers_by_zone)]
        leader = zone_servers[(index // len(servers_by_zone)) % len(zone_servers)]
        conn.execute("INSERT INTO __sim_ls (tenant_id, ls_id, leader_id, create_us) VALUES (?, ?, ?, ?)",
                     (tenant_id, ls_id, leader, now))
        record(conn, now, "leader", server_id=leader, tenant_id=tenant_id, ls_id=ls_id, info="bootstrap")


def record(conn: sqlite3.Connection, at_us: int, kind: str, *, server_id: int | None = None,
           tenant_id: int | None = None, ls_id: int | None = None, from_id: int | None = None,
           info: str = "") -> None:
    conn.execute("INSERT INTO __sim_history (at_us, kind, server_id, tenant_id, ls_id, from_id, info)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?)", (at_us, kind, server_id, tenant_id, ls_id, from_id, info))


def record_exit(conn: sqlite3.Connection, server_id: int, start_us: int, exit_us: int) -> None:
    """A peer saw the process of ``server_id`` started at ``start_us`` end at ``exit_us`` (the
    earliest sighting is kept)."""
    conn.execute("INSERT INTO __sim_exit (server_id, start_us, exit_us) VALUES (?, ?, ?) ON CONFLICT"
                 " (server_id, start_us) DO UPDATE SET exit_us = min(exit_us, excluded.exit_us)",
                 (server_id, start_us, exit_us))


def kill_time(conn: sqlite3.Connection, server_id: int, start_us: int, last_heartbeat_us: int) -> int:
    """When the process started at ``start_us`` ended: as a peer saw it end, else its last
    heartbeat. The heartbeat is a lower bound that a busy machine makes late by up to a lease
    (a killed leader would seem to have been killed before its leaders moved away); a peer's
    sighting is an upper bound, late by a wake-up only."""
    row = conn.execute("SELECT exit_us FROM __sim_exit WHERE server_id = ? AND start_us = ?",
                       (server_id, start_us)).fetchone()
    return max(int(row[0]) if row else last_heartbeat_us, start_us)


def record_restart(conn: sqlite3.Connection, server_id: int, previous_start_us: int, last_heartbeat_us: int | None) -> None:
    """A server starts again: its previous process ended (recorded here when it came back
    within its lease, before anyone saw it dead)."""
    if previous_start_us <= 0 or last_heartbeat_us is None:
        return
    seen = conn.execute("SELECT 1 FROM __sim_history WHERE kind = 'kill' AND server_id = ? AND at_us >= ?",
                        (server_id, previous_start_us)).fetchone()
    if seen is None:
        record(conn, kill_time(conn, server_id, previous_start_us, last_heartbeat_us), "kill", server_id=server_id)


def leader_of(conn: sqlite3.Connection, tenant_id: int, ls_id: int) -> int | None:
    row = conn.execute("SELECT leader_id FROM __sim_ls WHERE tenant_id = ? AND ls_id = ?", (tenant_id, ls_id)).fetchone()
    return int(row[0]) if row else None


# --- reconciling: the moves that are due ----------------------------------------------------

@dataclass(frozen=True)
class _Move:
    tenant_id: int
    ls_id: int
    from_id: int
    to_id: int
    at_us: int
    reason: str


@dataclass(frozen=True)
class _Facts:
    servers: dict[int, sqlite3.Row]
    zone_status: dict[str, tuple[str, int]]  # zone -> (status, modify_us)
    lives: dict[int, Live]
    faults: Mapping[tuple[str, str], str]
    unstuck_us: dict[str, int]  # target -> last time leaders_stuck was cleared there


def _address(server: sqlite3.Row) -> str:
    return f"{server['svr_ip']}:{server['svr_port']}"


def _stuck(facts: _Facts, server: sqlite3.Row) -> bool:
    return (_address(server), FAULT_LEADERS_STUCK) in facts.faults or ("", FAULT_LEADERS_STUCK) in facts.faults


def _eligible(facts: _Facts, server_id: int) -> bool:
    """A server a leader may move to: alive, in service, in an ACTIVE zone, not stopped."""
    server, live = facts.servers.get(server_id), facts.lives.get(server_id)
    if server is None or live is None or not (live.alive and live.serving) or server["stop_time_us"] > 0:
        return False
    return facts.zone_status.get(server["zone"], ("", 0))[0].upper() == "ACTIVE"


def _choose_target(facts: _Facts, leader_id: int, load: dict[int, int]) -> int | None:
    """The eligible server leading the fewest log streams (then the lowest id)."""
    candidates = [sid for sid in sorted(facts.servers) if sid != leader_id and _eligible(facts, sid)]
    return min(candidates, key=lambda sid: (load.get(sid, 0), sid)) if candidates else None


def _due_move(facts: _Facts, row: sqlite3.Row, delay_us: int, load: dict[int, int]) -> _Move | None:
    leader = facts.servers.get(row["leader_id"])
    live = facts.lives.get(row["leader_id"])
    if leader is None or live is None:
        return None
    key = (row["tenant_id"], row["ls_id"], row["leader_id"])
    if not live.alive:  # the lease ran out: re-elected elsewhere, stuck or not
        target = _choose_target(facts, row["leader_id"], load)
        return _Move(*key, target, live.last_offline_us, "lease expired") if target else None
    if _stuck(facts, leader):
        return None
    status, stopped_at = facts.zone_status.get(leader["zone"], ("ACTIVE", 0))
    if status.upper() != "ACTIVE":
        due = max(stopped_at, facts.unstuck_us.get(_address(leader), 0), facts.unstuck_us.get("", 0)) + delay_us
        target = _choose_target(facts, row["leader_id"], load)
        return _Move(*key, target, due, f"zone {leader['zone']} stopped") if target else None
    if row["switch_to_id"] is not None and _eligible(facts, row["switch_to_id"]):
        due = max(row["switch_at_us"], facts.unstuck_us.get(_address(leader), 0) + delay_us)
        return _Move(*key, row["switch_to_id"], due, "switch replica leader")
    return None


def _load_facts(conn: sqlite3.Connection, lives: Iterable[Live], faults: Mapping[tuple[str, str], str]) -> _Facts:
    servers = {row["id"]: row for row in conn.execute("SELECT id, svr_ip, svr_port, zone, stop_time_us FROM __sim_server")}
    zones = {row["zone"]: (row["status"], row["modify_us"]) for row in conn.execute("SELECT zone, status, modify_us FROM __sim_zone")}
    unstuck = {row["info"].split(" ", 1)[1] if " " in row["info"] else "": row["at"] for row in conn.execute(
        "SELECT info, max(at_us) AS at FROM __sim_history WHERE kind = 'fault_off' AND info LIKE ? GROUP BY info",
        (f"{FAULT_LEADERS_STUCK}%",))}
    return _Facts(servers, zones, {live.id: live for live in lives}, faults, unstuck)


def _moves(conn: sqlite3.Connection, facts: _Facts, delay_us: int, now: int) -> list[_Move]:
    rows = conn.execute("SELECT tenant_id, ls_id, leader_id, switch_to_id, switch_at_us FROM __sim_ls"
                        " ORDER BY tenant_id, ls_id").fetchall()
    load: dict[int, int] = {}
    for row in rows:
        load[row["leader_id"]] = load.get(row["leader_id"], 0) + 1
    moves = []
    for row in rows:
        move = _due_move(facts, row, delay_us, load)
        if move is not None and move.at_us <= now:
            moves.append(move)
            load[move.from_id] -= 1
            load[move.to_id] = load.get(move.to_id, 0) + 1
    return moves


def _process_events(conn: sqlite3.Connection, facts: _Facts, lease_us: int) -> list[tuple[str, int, int]]:
    """Starts and kills not yet in the history: (kind, server id, at_us)."""
    seen: dict[tuple[int, str], int] = {
        (row[0], row[1]): row[2] for row in conn.execute(
            "SELECT server_id, kind, max(at_us) FROM __sim_history WHERE kind IN ('start', 'kill') GROUP BY server_id, kind")}
    events = []
    starts = {row[0]: row[1] for row in conn.execute("SELECT id, start_us FROM __sim_server")}
    for server_id, start_us in starts.items():
        live = facts.lives.get(server_id)
        if start_us <= 0 or live is None:
            continue
        if seen.get((server_id, "start"), 0) < start_us:
            events.append(("start", server_id, start_us))
        if not live.alive and seen.get((server_id, "kill"), 0) < start_us:
            events.append(("kill", server_id, kill_time(conn, server_id, start_us, live.last_offline_us - lease_us)))
    return events


def reconcile(conn: sqlite3.Connection, lives: Iterable[Live], faults: Mapping[tuple[str, str], str],
              delay_s: float, lease_s: float, now: int) -> None:
    """Apply every leader move that is due and record process starts and kills.

    Reads first and writes only when something changed, in one transaction that re-checks
    each move (several observers reconcile at once)."""
    facts = _load_facts(conn, lives, faults)
    delay_us, lease_us = int(delay_s * 1_000_000), int(lease_s * 1_000_000)
    if not _moves(conn, facts, delay_us, now) and not _process_events(conn, facts, lease_us):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for kind, server_id, at_us in _process_events(conn, facts, lease_us):
            record(conn, at_us, kind, server_id=server_id)
        for move in _moves(conn, facts, delay_us, now):
            changed = conn.execute(
                "UPDATE __sim_ls SET leader_id = ?, switch_to_id = NULL WHERE tenant_id = ? AND ls_id = ? AND leader_id = ?",
                (move.to_id, move.tenant_id, move.ls_id, move.from_id)).rowcount
            if changed:
                record(conn, move.at_us, "leader", server_id=move.to_id, tenant_id=move.tenant_id, ls_id=move.ls_id,
                       from_id=move.from_id, info=move.reason)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


# --- ALTER SYSTEM SWITCH REPLICA LEADER -----------------------------------------------------

class SwitchRefused(Exception):
    """Why a switch cannot be asked for: (error kind, message) for the SQL front end."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind  # not_exist | not_allowed


def request_switch(conn: sqlite3.Connection, lives: Iterable[Live], tenant_id: int, ls_id: int, server: str,
                   delay_s: float, now: int) -> None:
    """Ask the leader of ``tenant_id``/``ls_id`` to move to ``server`` ('ip:port') after the delay."""
    ip, _, port = server.rpartition(":")
    target = conn.execute("SELECT id, zone, stop_time_us FROM __sim_server WHERE svr_ip = ? AND svr_port = ?",
                          (ip, int(port) if port.isdigit() else -1)).fetchone()
    if target is None:
        raise SwitchRefused("not_exist", f"server {server} not exist")
    current = leader_of(conn, tenant_id, ls_id)
    if current is None:
        raise SwitchRefused("not_exist", f"ls {ls_id} of tenant {tenant_id} not exist")
    live = {live.id: live for live in lives}.get(target["id"])
    zone = conn.execute("SELECT status FROM __sim_zone WHERE zone = ?", (target["zone"],)).fetchone()
    if live is None or not live.alive or target["stop_time_us"] > 0 or zone is None or zone[0].upper() != "ACTIVE":
        raise SwitchRefused("not_allowed", f"switch leader to server {server} that is not active")
    if current == target["id"]:
        return
    conn.execute("UPDATE __sim_ls SET switch_to_id = ?, switch_at_us = ? WHERE tenant_id = ? AND ls_id = ?",
                 (target["id"], now + int(delay_s * 1_000_000), tenant_id, ls_id))


# --- reading the history --------------------------------------------------------------------

def history(conn: sqlite3.Connection) -> list[HistoryEvent]:
    servers = {row[0]: (f"{row[1]}:{row[2]}", row[3]) for row in conn.execute(
        "SELECT id, svr_ip, svr_port, zone FROM __sim_server")}
    events = []
    for row in conn.execute("SELECT at_us, kind, server_id, tenant_id, ls_id, from_id, info FROM __sim_history"
                            " ORDER BY at_us, id"):
        server, zone = servers.get(row[2], ("", ""))
        zone = zone or (row[6] if row[1] in ("stop_zone", "start_zone") else "")
        events.append(HistoryEvent(row[0], row[1], server, zone, row[3], row[4], servers.get(row[5], ("", ""))[0], row[6]))
    return events


def read_history(state_dir: Path) -> list[HistoryEvent]:
    """The history of the cluster whose state is in ``state_dir`` (``DIR/state`` of `sim up`)."""
    from pyobshell.sim import cluster_state  # noqa: PLC0415 - cluster_state imports this module

    conn = cluster_state.connect(cluster_state.state_path(state_dir))
    try:
        return history(conn)
    finally:
        conn.close()


def leaders_at(events: Sequence[HistoryEvent], at_us: int) -> dict[tuple[int, int], str]:
    """Who led each log stream at ``at_us``, replayed from the history: (tenant, LS) -> server."""
    leaders: dict[tuple[int, int], str] = {}
    for event in events:
        if event.at_us > at_us:
            break
        if event.kind == "leader" and event.tenant_id is not None and event.ls_id is not None:
            leaders[(event.tenant_id, event.ls_id)] = event.server
    return leaders


def as_dicts(events: Sequence[HistoryEvent]) -> list[dict[str, Any]]:
    return [event.__dict__ for event in events]
