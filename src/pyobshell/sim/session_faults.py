"""What a client session feels of the cluster's health: added latency and a lost leader.

* ``slow_sql`` (value: milliseconds) on an observer delays every statement it answers;
* a user-database write while the sys tenant's leader is dead (killed, its lease not yet run
  out) fails with OceanBase's 4038 "not master", as a client sees it until a new leader is
  elected (reads are answered, as a follower's weak reads are). A zone that is stopped properly hands its leaders over first, so its clients
  never see this.

Both are read from the shared state with a short cache: a session asks before every
statement, and the answer may be a few tens of milliseconds old, as a client's view is.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable

from pyobshell.sim import log_streams, sql_errors as err
from pyobshell.sim.observer_info import ObserverInfo
from pyobshell.sim.server_health import FAULT_SLOW_SQL, fault_value, heartbeat_path, load_faults
from pyobshell.sim.settings import SimSettings
from pyobshell.sim.sql_functions import now_us

_FAULT_CACHE_S = 0.2
_LEADER_CACHE_S = 0.05


def not_master() -> err.SqlError:
    return err.SqlError(4038, "The observer or zone is not the master")


class SessionFaults:
    def __init__(self, info: ObserverInfo, settings: SimSettings):
        self.info = info
        self.settings = settings
        self._delay = (0.0, -1.0)  # (seconds, read at)
        self._leader_ok_at = -1.0

    def statement_delay_s(self, conn: sqlite3.Connection) -> float:
        delay, read_at = self._delay
        if time.monotonic() - read_at > _FAULT_CACHE_S:
            raw = fault_value(load_faults(conn), FAULT_SLOW_SQL, f"{self.info.ip}:{self.info.rpc_port}")
            try:
                delay = max(float(raw), 0.0) / 1000 if raw is not None else 0.0
            except ValueError:
                delay = 0.0
            self._delay = (delay, time.monotonic())
        return delay

    def check_leader(self, conn: sqlite3.Connection, refresh: Callable[[], object]) -> None:
        """Raise 4038 when the sys tenant's leader is dead; a dead leader past its lease is
        re-elected by ``refresh`` (the cluster's reconciling) first."""
        if time.monotonic() - self._leader_ok_at < _LEADER_CACHE_S:
            return
        if not self._leader_alive(conn):
            refresh()
            if not self._leader_alive(conn):
                raise not_master()
        self._leader_ok_at = time.monotonic()

    def _leader_alive(self, conn: sqlite3.Connection) -> bool:
        leader = log_streams.leader_of(conn, *log_streams.ROOT_SERVICE_LS)
        if leader is None:
            return True  # a state without log streams: nothing to lose
        row = conn.execute("SELECT svr_ip, svr_port, start_us FROM __sim_server WHERE id = ?", (leader,)).fetchone()
        if row is None or row["start_us"] <= 0:
            return True  # never started (a session without processes): no leader was lost
        try:
            heartbeat_us = os.stat(heartbeat_path(self.info.state_dir, row["svr_ip"], row["svr_port"])).st_mtime_ns // 1000
        except OSError:
            return True
        # A heartbeat this old: the process is gone, and its lease still runs (a margin for a
        # busy machine's late heartbeat, so that a live leader is never taken for dead).
        silent_s = max(self.settings.heartbeat_interval * 4, self.settings.lease / 2)
        return now_us() - heartbeat_us <= int(silent_s * 1_000_000)
