"""The audit trail service: records go to the journal (JSON lines) and the cluster store from a
worker thread, so the event loop never waits on a file or a statement, and reads are answered
from the cluster store.

:meth:`AuditTrail.submit` only puts the record on a bounded queue. The worker appends it to the
journal first, then inserts it into the cluster store; when the store is down (not open yet, an
observer restarting) the record stays in the journal, a warning is logged (at most once a
minute), and the insert is tried again every ``retry_every_s`` while the agent runs. Rows older
than the retention (``PYOBSHELL_AUDIT_RETENTION_DAYS``, default 90) are pruned about once an
hour, by every agent (deleting what another agent deleted already costs nothing).
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

from pyobshell.audit.journal import AuditJournal
from pyobshell.audit.query import AuditQuery
from pyobshell.audit.store import AuditStore, AuditStoreUnavailable
from pyobshell.errors import ErrorCode, ErrorKind
from pyobshell.wire.audit import AuditRecord

log = logging.getLogger(__name__)

RETENTION_ENV = "PYOBSHELL_AUDIT_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 90.0
MAX_RETENTION_DAYS = 36_500.0
PRUNE_EVERY_S = 3600.0
RETRY_EVERY_S = 5.0
WARN_EVERY_S = 60.0
MAX_QUEUED = 10_000  # records waiting for the worker
MAX_PENDING = 10_000  # records in the journal waiting for the cluster store
BATCH = 200
DAY_MS = 86_400_000

AUDIT_UNAVAILABLE = ErrorCode("Audit.Store.Unavailable", ErrorKind.UNAVAILABLE,
                              "The audit trail cannot be read now: {}; this agent's own records are in "
                              "its log/audit.jsonl")


def retention_days(env: Mapping[str, str] | None = None) -> float:
    """``PYOBSHELL_AUDIT_RETENTION_DAYS`` (default 90): a positive number of days, ValueError otherwise."""
    raw = (os.environ if env is None else env).get(RETENTION_ENV, "").strip()
    if not raw:
        return DEFAULT_RETENTION_DAYS
    try:
        days = float(raw)
    except ValueError:
        raise ValueError(f"{RETENTION_ENV}={raw!r} is not a number of days") from None
    if not math.isfinite(days) or not 0 < days <= MAX_RETENTION_DAYS:
        raise ValueError(f"{RETENTION_ENV}={raw!r} must be more than 0 and at most {MAX_RETENTION_DAYS:g} days")
    return days


class AuditTrail:
    def __init__(self, store: AuditStore, journal: AuditJournal | None, *,
                 retention_days: float = DEFAULT_RETENTION_DAYS, clock: Callable[[], float] = time.time,
                 prune_every_s: float = PRUNE_EVERY_S, retry_every_s: float = RETRY_EVERY_S):
        self.store = store
        self.journal = journal
        self.retention_days = retention_days
        self._clock = clock
        self._prune_every_s = prune_every_s
        self._retry_every_s = retry_every_s
        self._queue: queue.Queue[AuditRecord] = queue.Queue(MAX_QUEUED)
        self._pending: deque[AuditRecord] = deque()
        self._unsettled = 0  # records submitted, not yet in the journal
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._last_failure = -math.inf
        self._last_prune = -math.inf
        self._warned_at: dict[str, float] = {}
        self.dropped = 0

    # -- the HTTP layer's side (never blocks) -----------------------------------------------
    def submit(self, record: AuditRecord) -> None:
        """Queue one record; a full queue drops it with a warning (never fails the request)."""
        self._ensure_worker()
        try:
            with self._lock:
                self._queue.put_nowait(record)
                self._unsettled += 1
        except queue.Full:
            self.dropped += 1
            self._warn("queue", "audit queue full: %d record(s) dropped so far", self.dropped)

    # -- reads (blocking: from a worker thread) ---------------------------------------------
    def read(self, query: AuditQuery) -> list[AuditRecord]:
        """The records the query asks for, newest first, from the cluster store."""
        try:
            return self.store.read(query.since_ms, query.dag_id, query.limit)
        except AuditStoreUnavailable as exc:
            raise AUDIT_UNAVAILABLE(str(exc)) from None

    # -- life cycle ---------------------------------------------------------------------------
    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until every submitted record is in the journal and the cluster store (True), or
        the time is up (False)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                done = not self._unsettled and not self._pending
            if done:
                return True
            time.sleep(0.02)
        return False

    def close(self, timeout_s: float = 5.0) -> None:
        """Write what is queued (once more to the store) and stop the worker."""
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    # -- the worker ---------------------------------------------------------------------------
    def _ensure_worker(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stopping.clear()
                self._thread = threading.Thread(target=self._run, name="pyobshell-audit", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            stopping = self._stopping.is_set()
            try:
                self._step(wait_s=0.0 if stopping else 1.0, force=stopping)
            except Exception:  # noqa: BLE001 - the worker must outlive any one failure
                log.exception("audit worker step failed")
            if stopping:
                return

    def _step(self, wait_s: float, force: bool = False) -> None:
        batch = self._take(wait_s)
        if batch:
            try:
                if self.journal is not None:
                    self.journal.append(batch)
            except OSError as exc:
                self._warn("journal", "cannot write the audit journal %s: %s", self.journal.path, exc)
            with self._lock:
                self._pending.extend(batch)
                self._unsettled -= len(batch)
                overflow = len(self._pending) - MAX_PENDING
                for _ in range(max(0, overflow)):
                    self._pending.popleft()
            if overflow > 0:
                self._warn("pending", "the cluster store took no audit record for long: %d older record(s) "
                                      "kept only in the journal", overflow)
        now = time.monotonic()
        if not force and now - self._last_failure < self._retry_every_s:
            return
        self._store_pending()
        self._prune_if_due()

    def _take(self, wait_s: float) -> list[AuditRecord]:
        batch: list[AuditRecord] = []
        try:
            first = self._queue.get(timeout=wait_s) if wait_s > 0 else self._queue.get_nowait()
        except queue.Empty:
            return batch
        batch.append(first)
        while len(batch) < BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _store_pending(self) -> None:
        while True:
            with self._lock:
                chunk = list(self._pending)[:BATCH]
            if not chunk:
                return
            try:
                self.store.add(chunk)
            except AuditStoreUnavailable as exc:
                self._last_failure = time.monotonic()
                self._warn("store", "audit records kept in the journal only for now (%d waiting): the cluster "
                                    "store did not take them: %s", len(self._pending), exc)
                return
            with self._lock:
                for _ in chunk:
                    self._pending.popleft()

    def _prune_if_due(self) -> None:
        now = time.monotonic()
        if now - self._last_prune < self._prune_every_s:
            return
        before_ms = int(self._clock() * 1000 - self.retention_days * DAY_MS)
        try:
            removed = self.store.prune(before_ms)
        except AuditStoreUnavailable as exc:
            self._last_failure = now
            log.info("audit records not pruned now: %s", exc)
            return
        self._last_prune = now
        if removed:
            log.info("pruned %d audit record(s) older than %g days", removed, self.retention_days)

    def _warn(self, what: str, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._warned_at.get(what, -math.inf) >= WARN_EVERY_S:
            self._warned_at[what] = now
            log.warning(message, *args)
