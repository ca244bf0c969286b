"""The live SQL probe: what the database's clients see while the cluster is upgraded.

On the maintainer, for as long as an upgrade DAG runs, a thread sends a small read and a small
write (:mod:`pyobshell.ob.probe_sql`) through one observer of every ACTIVE zone, several
times a second, and files each answer by DAG stage and zone (:mod:`.probe_stats`). Each zone is
probed on its own worker: a slow observer delays its own zone's samples, never the others', as
a client of one zone is not slowed by another zone. The report
is saved about once a second (:mod:`.probe_store`): ``GET /api/v1/ob/upgrade/probe``, the
DAG's ``additional_data.sqlProbe`` and the CLI's live view show it.

The probe is an observer of the upgrade, never part of it: its own failures are logged and
counted, and never change what the DAG does, with one exception the operator asks for: when the
upgrade body set an ``slo``, the guard (:mod:`.slo_guard`) pauses the DAG on a breach. A paused
DAG is still probed: an operator deciding whether to RESUME sees what clients see now.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pyobshell.errors import ObshellError
from pyobshell.ob import probe_sql
from pyobshell.ob.connection import ObConnectionPool, PoolOptions
from pyobshell.ob.probe_sql import ProbeTarget
from pyobshell.ob.sql import Sql
from pyobshell.ob.target import ObserverTarget
from pyobshell.upgrade import slo_guard
from pyobshell.upgrade.probe_stats import ProbeStats, Sample
from pyobshell.upgrade.stages import DAG_ROLLING_UPGRADE, DAG_STOP_SERVICE_UPGRADE
from pyobshell.wire.task import DagDetailDTO
from pyobshell.wire.upgrade import SloParam

log = logging.getLogger(__name__)
ROUND_S = 0.25  # four rounds a second, each a read and a write per zone
SAVE_EVERY_S = 1.0
WATCH_EVERY_S = 0.5
MAX_PARALLEL_ZONES = 16  # workers; more zones than that wait their turn, none is skipped


@dataclass(frozen=True)
class RunningDag:
    dag_id: int
    stage: int
    stage_name: str
    running: bool  # READY, RUNNING or PAUSED (the probe samples); else it has ended or failed
    paused: bool = False  # the DAG is paused (or pausing): the SLO guard has nothing to do


def is_upgrade_dag(dag: DagDetailDTO) -> bool:
    return dag.name.startswith((DAG_ROLLING_UPGRADE, DAG_STOP_SERVICE_UPGRADE))


def running_dag(dag: DagDetailDTO) -> RunningDag:
    names = {index: node.name for index, node in enumerate(dag.nodes or [], 1)}
    paused = dag.state == "PAUSED" or bool((dag.additional_data or {}).get("pause"))
    return RunningDag(dag.dag_id, dag.stage, names.get(dag.stage, f"stage {dag.stage}"),
                      dag.state in ("READY", "RUNNING", "PENDING", "PAUSED"), paused)


SloOf = Callable[[int], SloParam | None]
PauseDag = Callable[[int, str], bool]
SampleObserver = Callable[[Sample], None]
"""Hears of every counted sample (the agent's metrics); must be quick and never raise."""


def _ignore(_sample: Sample) -> None:
    return None


class ProbeRun:
    """One DAG's sampling: targets refreshed every round, one pool and one pair of statements in
    flight per observer. The workers hand their samples back; only the probe's own thread files
    them (:meth:`collect`), so the figures need no lock."""

    def __init__(self, cluster: Sql, credentials: Callable[[], tuple[str, str]], stats: ProbeStats,
                 on_sample: SampleObserver = _ignore):
        self.cluster = cluster  # the agent's own SQL: where the targets are read
        self.credentials = credentials  # (user, password) of root@sys
        self.stats = stats
        self.on_sample = on_sample
        self._pools: dict[str, ObConnectionPool] = {}
        self._in_flight: dict[str, Future[None]] = {}
        self._workers = ThreadPoolExecutor(MAX_PARALLEL_ZONES, thread_name_prefix="pyobshell-sql-probe-zone")
        self._finished: queue.SimpleQueue[tuple[Sample, int, str]] = queue.SimpleQueue()
        self._counter = itertools.count(1)
        self._table_ready = False

    def _pool(self, target: ProbeTarget) -> ObConnectionPool:
        pool = self._pools.get(target.address)
        if pool is None:
            user, password = self.credentials()
            observer = ObserverTarget(ob_home=Path("."), host=target.ip, sql_port=target.sql_port, user=user,
                                      password=password)
            pool = ObConnectionPool(observer, PoolOptions(connect_timeout_s=1.0, read_timeout_s=3.0,
                                                          write_timeout_s=3.0, max_idle=1))
            self._pools[target.address] = pool
        return pool

    def round(self, stage: int, stage_name: str) -> None:
        """Start a write and a read through every probed observer whose last pair has answered,
        then file every sample answered so far."""
        try:
            targets = probe_sql.probe_targets(self.cluster)
            if not self._table_ready:
                probe_sql.create_probe_table(self.cluster)
                self._table_ready = True
        except ObshellError as exc:
            log.info("SQL probe: cannot read which observers serve (%s); next round tries again", exc.message)
            return
        finally:
            self.collect()
        self._forget_all_but({target.address for target in targets})
        for target in targets:
            pending = self._in_flight.get(target.address)
            if pending is not None and not pending.done():
                continue  # its observer is slow: that zone's next pair starts when this one answers
            self._in_flight[target.address] = self._workers.submit(
                self._pair, target, self._pool(target), stage, stage_name)

    def collect(self) -> None:
        while True:
            try:
                sample, stage, stage_name = self._finished.get_nowait()
            except queue.Empty:
                return
            self.stats.add(sample, stage, stage_name)
            self.on_sample(sample)

    def _pair(self, target: ProbeTarget, pool: ObConnectionPool, stage: int, stage_name: str) -> None:
        counter = next(self._counter)
        self._sample(target, "write", stage, stage_name,
                     lambda: probe_sql.write_probe(pool, target.zone, counter, time.time_ns() // 1000))
        self._sample(target, "read", stage, stage_name, lambda: probe_sql.read_probe(pool, target.zone))

    def _sample(self, target: ProbeTarget, kind: str, stage: int, stage_name: str, statement: Callable[[], object]) -> None:
        at, started = time.time(), time.perf_counter()
        try:
            statement()
            sample = Sample(at, target.zone, target.address, kind, True, 1000 * (time.perf_counter() - started))
        except ObshellError as exc:
            if not self._still_probed(target):
                # Its zone was stopped while the round ran: OBProxy would have routed the client
                # away before the observer went down, so this is not what a client saw.
                log.info("SQL probe: %s through %s failed as its zone %s left service; not counted: %s",
                         kind, target.address, target.zone, exc.message)
                return
            sample = Sample(at, target.zone, target.address, kind, False, 1000 * (time.perf_counter() - started),
                            exc.message)
            log.info("SQL probe: %s through %s (%s) failed: %s", kind, target.address, target.zone, exc.message)
        self._finished.put((sample, stage, stage_name))

    def _still_probed(self, target: ProbeTarget) -> bool:
        try:
            return target in probe_sql.probe_targets(self.cluster)
        except ObshellError:
            return True  # cannot tell: the failure counts

    def _forget_all_but(self, addresses: set[str]) -> None:
        """Drop the connections to observers no longer probed: when one comes back (restarted),
        the probe connects afresh, as OBProxy would, instead of reusing a dead process's socket."""
        for address in [a for a in self._pools if a not in addresses]:
            self._in_flight.pop(address, None)
            self._pools.pop(address).close()  # a pair still out returns its connection closed

    def close(self) -> None:
        """Wait for the pairs still out (each bounded by the pools' timeouts), file them, close."""
        self._workers.shutdown(wait=True)
        self.collect()
        self._forget_all_but(set())


class SqlProbe:
    """Watches for a running upgrade DAG (on the maintainer only) and probes while it runs."""

    def __init__(self, cluster: Sql, credentials: Callable[[], tuple[str, str]],
                 current_dag: Callable[[], DagDetailDTO | None], is_maintainer: Callable[[], bool],
                 save: Callable[[dict], None], load: Callable[[int], dict | None] = lambda dag_id: None,
                 slo_of: SloOf = lambda dag_id: None, pause: PauseDag = lambda dag_id, reason: False,
                 on_sample: SampleObserver = _ignore):
        """``slo_of``: the SLO bounds a DAG was started with; ``pause``: pause it (the guard);
        ``on_sample``: told of every sample counted."""
        self.cluster = cluster
        self.credentials = credentials
        self.current_dag = current_dag  # the latest maintenance DAG with its nodes, None without one
        self.is_maintainer = is_maintainer
        self.save = save
        self.load = load
        self.slo_of = slo_of
        self.pause_dag = pause
        self.on_sample = on_sample
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stats: dict[int, ProbeStats] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="pyobshell-sql-probe", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _watched(self) -> RunningDag | None:
        if not self.is_maintainer():
            return None
        try:
            dag = self.current_dag()
        except ObshellError:
            return None
        return running_dag(dag) if dag is not None and is_upgrade_dag(dag) else None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                watched = self._watched()
                if watched is not None and watched.running:
                    self._probe(watched)
                    continue
            except Exception:  # the probe must never stop the agent; it says why and goes on
                log.exception("SQL probe: unexpected failure; it starts again")
            self._stop.wait(WATCH_EVERY_S)

    def _stats_for(self, dag_id: int) -> ProbeStats:
        if dag_id not in self._stats:  # a new maintainer or a RETRY: go on from what was saved
            self._stats[dag_id] = ProbeStats(dag_id, time.time())
            if self.load(dag_id):
                log.info("SQL probe: DAG %d had a report before; new figures are added from now on", dag_id)
        return self._stats[dag_id]

    def _probe(self, watched: RunningDag) -> None:
        stats = self._stats_for(watched.dag_id)
        run = ProbeRun(self.cluster, self.credentials, stats, self.on_sample)
        log.info("SQL probe: upgrade DAG %d runs; probing every ACTIVE zone every %.2f s", watched.dag_id, ROUND_S)
        saved_at = 0.0
        slo, slo_known = self._slo(watched.dag_id)
        # Only what clients see after the DAG last ran again is held against it: ``since`` moves
        # when a pause is found over (a statement begun during the pause, under the fault that
        # caused it, must not pause the DAG again right after its RESUME).
        since, paused_seen = 0.0, watched.paused
        try:
            while not self._stop.is_set() and watched.running and watched.dag_id == stats.dag_id:
                started = time.monotonic()
                run.round(watched.stage, watched.stage_name)
                if time.monotonic() - saved_at >= SAVE_EVERY_S:
                    self._save(stats, running=True)
                    saved_at = time.monotonic()
                    watched = self._watched() or RunningDag(stats.dag_id, watched.stage, watched.stage_name, False)
                    if not slo_known:  # the store did not answer: ask again rather than not guard
                        slo, slo_known = self._slo(stats.dag_id)
                    if watched.paused:
                        paused_seen = True
                    elif paused_seen:
                        since, paused_seen = time.time(), False
                    elif slo is not None:
                        paused_seen = self._guard(stats, slo, since)
                self._stop.wait(max(ROUND_S - (time.monotonic() - started), 0.0))
        finally:
            run.close()
            self._save(stats, running=False)
            total = stats.total.summary()
            stats.pause()
            log.info("SQL probe: DAG %d paused or ended; clients saw %.2f %% success, p99 %.1f ms, longest write "
                     "gap %.0f ms", stats.dag_id, total["success_pct"], total["p99_ms"], total["longest_write_gap_ms"])

    def _slo(self, dag_id: int) -> tuple[SloParam | None, bool]:
        """The DAG's SLO bounds, and whether they could be read (else they are read again)."""
        try:
            return self.slo_of(dag_id), True
        except Exception as exc:  # the probe goes on; the guard waits for its bounds
            log.warning("SLO guard: cannot read the SLO of DAG %d yet (%s); asking again in a second", dag_id, exc)
            return None, False

    def _guard(self, stats: ProbeStats, slo: SloParam, since: float) -> bool:
        """Pause the DAG on a breach; whether it is paused now (by this call or before it)."""
        figures = slo_guard.window_figures(stats, time.time(), slo.window_s, since)
        reason = slo_guard.breach(slo, figures)
        if reason is None:
            return False
        try:
            if self.pause_dag(stats.dag_id, reason):
                log.warning("SLO guard: DAG %d pausing at its next node boundary: %s", stats.dag_id, reason)
            return True
        except Exception as exc:
            log.warning("SLO guard: cannot pause DAG %d (%s); the breach: %s", stats.dag_id, exc, reason)
            return False

    def _save(self, stats: ProbeStats, running: bool) -> None:
        try:
            self.save(stats.report(time.time(), running))
        except Exception as exc:  # the figures are kept in memory and saved next time
            log.warning("SQL probe: cannot save the report of DAG %d: %s", stats.dag_id, exc)
