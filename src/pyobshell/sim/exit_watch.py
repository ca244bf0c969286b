"""Each simulated observer watches its peers' processes end, so the history dates a kill when
it happened rather than at the victim's last heartbeat.

A killed process cannot say when it died. Its last heartbeat is a lower bound that a busy
machine delays (a heart-beat thread starved for a second), and the leader history checked
against it once showed a leader "killed" before its leaders had moved away, when they had. A
pidfd (Linux 5.3+) becomes readable the moment its process ends: the first live peer that
sees it records the time (:func:`log_streams.record_exit`). Where pidfds are missing, or every
observer is stopped at once, the heartbeat bound is used as before.
"""

from __future__ import annotations

import logging
import os
import select
import sqlite3
import threading
from pathlib import Path

from pyobshell.sim import cluster_state, log_streams
from pyobshell.sim.sql_functions import now_us

log = logging.getLogger(__name__)
REFRESH_S = 0.5  # how often the list of peer processes is read again


class PeerExitWatch:
    """A daemon thread that records when another observer's process ends."""

    def __init__(self, state_dir: Path, my_server_id: int):
        self.state_path = cluster_state.state_path(state_dir)
        self.me = my_server_id
        self._stop = threading.Event()
        self._watched: dict[int, tuple[int, int, int]] = {}  # fd -> (server id, start_us, pid)
        self._poll = select.poll()

    def start(self) -> bool:
        if not hasattr(os, "pidfd_open"):
            return False
        threading.Thread(target=self._run, name="sim-peer-exit-watch", daemon=True).start()
        return True

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        conn = cluster_state.connect(self.state_path)
        try:
            while not self._stop.is_set():
                try:
                    self._refresh(conn)
                    for fd, _ in self._poll.poll(REFRESH_S * 1000):
                        self._ended(conn, fd, now_us())
                except (sqlite3.Error, OSError) as error:  # the cluster is going away
                    log.debug("peer exit watch: %s", error)
                    self._stop.wait(REFRESH_S)
        finally:
            for fd in list(self._watched):
                self._forget(fd)
            conn.close()

    def _refresh(self, conn: sqlite3.Connection) -> None:
        rows = conn.execute("SELECT id, start_us, pid FROM __sim_server WHERE id != ? AND pid > 0 AND start_us > 0",
                            (self.me,)).fetchall()
        wanted = {(int(r["id"]), int(r["start_us"]), int(r["pid"])) for r in rows}
        for fd, known in list(self._watched.items()):
            if known not in wanted:  # restarted since (its new process is watched below)
                self._forget(fd)
        for entry in wanted - set(self._watched.values()):
            try:
                fd = os.pidfd_open(entry[2])
            except ProcessLookupError:
                continue  # already gone: its heartbeat dates it
            self._watched[fd] = entry
            self._poll.register(fd, select.POLLIN)

    def _ended(self, conn: sqlite3.Connection, fd: int, at_us: int) -> None:
        server_id, start_us, _pid = self._watched[fd]
        conn.execute("BEGIN IMMEDIATE")
        try:
            log_streams.record_exit(conn, server_id, start_us, at_us)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            self._forget(fd)

    def _forget(self, fd: int) -> None:
        self._watched.pop(fd, None)
        try:
            self._poll.unregister(fd)
        except KeyError:
            pass
        os.close(fd)
