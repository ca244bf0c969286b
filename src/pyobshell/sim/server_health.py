"""What each simulated observer looks like right now: alive, in service, in sync, RootService.

Derived from the observer's heartbeat file (touched by the live process), its recorded start
time, the cluster's delays and the injected faults — never from a background writer, so it
is the same whichever observer answers.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from pyobshell.sim import log_streams
from pyobshell.sim.log_streams import FAULT_LEADERS_STUCK
from pyobshell.sim.settings import SimSettings
from pyobshell.sim.sql_functions import now_us

HEARTBEAT_DIR = "heartbeat"

# Fault kinds a test can switch on (cluster-wide with target '', or for one 'ip:port').
FAULT_NEVER_SERVE = "never_serve"
FAULT_LOG_NEVER_SYNC = "log_never_sync"
FAULT_UPGRADE_JOB_FAILS = "upgrade_job_fails"
FAULT_EXTRA_STARTUP_DELAY = "extra_startup_delay"
FAULT_SLOW_SQL = "slow_sql"  # value: milliseconds added to every statement of the observer
FAULT_KINDS = (FAULT_NEVER_SERVE, FAULT_LOG_NEVER_SYNC, FAULT_UPGRADE_JOB_FAILS, FAULT_EXTRA_STARTUP_DELAY,
               FAULT_LEADERS_STUCK, FAULT_SLOW_SQL)


@dataclass(frozen=True)
class ServerLive:
    id: int
    alive: bool
    serving: bool
    in_sync: bool
    start_service_us: int
    last_offline_us: int
    is_rs: bool = False


def heartbeat_path(state_dir: Path, svr_ip: str, svr_port: int) -> Path:
    return state_dir / HEARTBEAT_DIR / f"{svr_ip}_{svr_port}"


def touch_heartbeat(path: Path) -> None:
    path.touch(exist_ok=True)
    os.utime(path)


def _mtime_us(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns // 1000
    except OSError:
        return None


def load_faults(conn: sqlite3.Connection) -> dict[tuple[str, str], str]:
    return {(target, kind): value for target, kind, value in conn.execute("SELECT target, kind, value FROM __sim_fault")}


def fault_value(faults: dict[tuple[str, str], str], kind: str, target: str) -> str | None:
    return faults.get((target, kind), faults.get(("", kind)))


def derive_server(
    row: sqlite3.Row, settings: SimSettings, faults: dict[tuple[str, str], str], hb_us: int | None, now: int
) -> ServerLive:
    target = f"{row['svr_ip']}:{row['svr_port']}"
    lease_us = int(settings.lease * 1_000_000)
    alive = hb_us is not None and row["start_us"] > 0 and now - hb_us <= lease_us
    if not alive:
        offline = hb_us + lease_us if hb_us is not None and row["start_us"] > 0 else row["last_offline_us"]
        return ServerLive(row["id"], False, False, False, 0, offline)
    extra = float(fault_value(faults, FAULT_EXTRA_STARTUP_DELAY, target) or 0)
    serve_at = row["start_us"] + int((settings.startup_delay + extra) * 1_000_000)
    serving = now >= serve_at and fault_value(faults, FAULT_NEVER_SERVE, target) is None
    sync_at = serve_at + int(settings.catchup_delay * 1_000_000)
    in_sync = serving and now >= sync_at and fault_value(faults, FAULT_LOG_NEVER_SYNC, target) is None
    return ServerLive(row["id"], True, serving, in_sync, serve_at if serving else 0, row["last_offline_us"])


def derive_all(conn: sqlite3.Connection, state_dir: Path, settings: SimSettings) -> list[ServerLive]:
    """Every server's state now, after the leader moves that are due (the root service is
    where the sys tenant's LS 1 leads)."""
    now = now_us()
    faults = load_faults(conn)
    rows = conn.execute(
        "SELECT id, svr_ip, svr_port, start_us, last_offline_us FROM __sim_server ORDER BY id"
    ).fetchall()
    lives = [
        derive_server(row, settings, faults, _mtime_us(heartbeat_path(state_dir, row["svr_ip"], row["svr_port"])), now)
        for row in rows
    ]
    log_streams.reconcile(conn, lives, faults, settings.leader_switch_delay, settings.lease, now)
    rs_id = log_streams.leader_of(conn, *log_streams.ROOT_SERVICE_LS)
    return [ServerLive(**{**live.__dict__, "is_rs": live.id == rs_id}) for live in lives]


def refresh_live_table(conn: sqlite3.Connection, state_dir: Path, settings: SimSettings) -> list[ServerLive]:
    """Rewrite this connection's TEMP ``__sim_live`` table from the derived state."""
    lives = derive_all(conn, state_dir, settings)
    conn.execute("DELETE FROM temp.__sim_live")
    conn.executemany(
        "INSERT INTO temp.__sim_live VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (l.id, int(l.alive), int(l.serving), int(l.in_sync), l.start_service_us, l.last_offline_us, int(l.is_rs))
            for l in lives
        ],
    )
    return lives
