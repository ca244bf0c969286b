"""A killed observer is dated by the peer that saw its process end, not by its last heartbeat
(which a busy machine makes late): the pidfd watcher and the history's kill time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyobshell.sim import cluster_state, log_streams, state_schema
from pyobshell.sim.exit_watch import PeerExitWatch
from pyobshell.sim.sql_functions import now_us


def state(directory: Path):
    conn = cluster_state.connect(cluster_state.state_path(directory))
    conn.executescript(state_schema.TABLES)
    return conn


def add_server(conn, server_id: int, pid: int, start_us: int) -> None:
    conn.execute("INSERT INTO __sim_server (id, svr_ip, svr_port, sql_port, zone, version, release, build_version,"
                 " start_us, create_us, modify_us, pid) VALUES (?, ?, 2882, 2881, 'zone1', '4.2.1.0', 'r', 'b', ?, 0, 0, ?)",
                 (server_id, f"127.0.0.{server_id}", start_us, pid))


def test_the_kill_time_is_the_peers_sighting_else_the_last_heartbeat(tmp_path: Path) -> None:
    conn = state(tmp_path)
    assert log_streams.kill_time(conn, 2, 1_000, 5_000) == 5_000  # nobody saw it end: its heartbeat
    assert log_streams.kill_time(conn, 2, 1_000, 500) == 1_000  # never before the process started
    log_streams.record_exit(conn, 2, 1_000, 9_000)
    log_streams.record_exit(conn, 2, 1_000, 8_000)  # a second peer saw it earlier
    log_streams.record_exit(conn, 2, 1_000, 9_500)
    assert log_streams.kill_time(conn, 2, 1_000, 5_000) == 8_000
    assert log_streams.kill_time(conn, 2, 20_000, 25_000) == 25_000  # the next process: not that sighting
    log_streams.record_restart(conn, 2, 1_000, 5_000)  # it came back before anyone saw it dead
    conn.close()
    assert [e.at_us for e in log_streams.read_history(tmp_path) if e.kind == "kill"] == [8_000]


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="no pidfd on this platform")
def test_a_peer_records_when_a_watched_process_ends(tmp_path: Path) -> None:
    conn = state(tmp_path)
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        add_server(conn, 1, os.getpid(), 100)  # the watcher's own server: never watched
        add_server(conn, 2, victim.pid, 200)
        watch = PeerExitWatch(tmp_path, my_server_id=1)
        assert watch.start()
        time.sleep(0.8)  # one refresh: the victim is watched
        killed_at = now_us()
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        deadline = time.monotonic() + 10
        row = None
        while row is None and time.monotonic() < deadline:
            row = conn.execute("SELECT exit_us FROM __sim_exit WHERE server_id = 2 AND start_us = 200").fetchone()
            time.sleep(0.05)
        watch.stop()
        assert row is not None, "the watcher did not see the process end"
        assert row[0] >= killed_at  # seen after the kill, never dated before it
        assert conn.execute("SELECT count(*) FROM __sim_exit WHERE server_id = 1").fetchone()[0] == 0
    finally:
        victim.kill()
        conn.close()
