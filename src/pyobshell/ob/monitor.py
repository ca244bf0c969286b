"""A background task that keeps the observer's obState (and version) up to date.

A probe opens a new SQL session to the observer, so readers that want a recent obState (the
public /api/v1/status, polled by every client and peer) take the monitor's last result when
it is younger than ``max_age_s`` and share one probe when it is not.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable

import anyio.to_thread

from pyobshell.aio import cancel_and_wait
from pyobshell.errors import ObshellError
from pyobshell.ob.connection import ObConnectionPool
from pyobshell.ob.state import DEFAULT_PROBE_TIMEOUT_S, ObState, probe_ob_state

log = logging.getLogger(__name__)

StateListener = Callable[[ObState, ObState], None]
OB_VERSION_SQL = "SELECT ob_version() AS version"


class ObStateMonitor:
    """Probes the observer every ``interval_s`` seconds and on demand; tells listeners of changes."""

    def __init__(self, probe_pool: ObConnectionPool, interval_s: float = 2.0) -> None:
        self.pool = probe_pool
        self.interval_s = interval_s
        self.state = ObState.NOT_RUNNING
        self.ob_version = ""
        self.probed_at: float | None = None  # time.time() of the last probe
        self._listeners: list[StateListener] = []
        self._task: asyncio.Task[None] | None = None
        self._probing: asyncio.Future[ObState] | None = None

    def add_listener(self, listener: StateListener) -> None:
        """``listener(old, new)`` runs on the event loop after every state change."""
        self._listeners.append(listener)

    async def recent_state(self, timeout_s: float = DEFAULT_PROBE_TIMEOUT_S, max_age_s: float | None = None) -> ObState:
        """The last probed state if it is at most ``max_age_s`` (default: the probe interval)
        old, else the result of a new probe; concurrent callers share that probe."""
        max_age_s = self.interval_s if max_age_s is None else max_age_s
        if self.probed_at is not None and time.time() - self.probed_at <= max_age_s:
            return self.state
        if self._probing is None or self._probing.done():
            # Shielded: a caller that goes away (client disconnect) does not cancel the others' probe.
            self._probing = asyncio.ensure_future(self.refresh(timeout_s))
        return await asyncio.shield(self._probing)

    async def refresh(self, timeout_s: float = DEFAULT_PROBE_TIMEOUT_S) -> ObState:
        """Probe now (in a worker thread) and record the result."""
        probe = functools.partial(probe_ob_state, self.pool, timeout_s)
        new = await anyio.to_thread.run_sync(probe, abandon_on_cancel=True)
        self.probed_at = time.time()
        old, self.state = self.state, new
        if new != old:
            await self._on_change(old, new)
        return new

    async def _on_change(self, old: ObState, new: ObState) -> None:
        log.info("obState changed from %d (%s) to %d (%s)", old, old.short_name, new, new.short_name)
        for listener in self._listeners:
            try:
                listener(old, new)
            except Exception:  # a faulty listener must not stop the monitor
                log.exception("obState listener failed")
        if new == ObState.AVAILABLE:
            self.ob_version = await self._read_ob_version()

    async def _read_ob_version(self) -> str:
        query = functools.partial(self.pool.query_one, OB_VERSION_SQL)
        try:
            row = await anyio.to_thread.run_sync(query, abandon_on_cancel=True)
        except ObshellError as exc:
            log.warning("cannot read the observer version: %s", exc.message)
            return self.ob_version
        return str(next(iter(row.values()))) if row else self.ob_version

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # keep monitoring whatever a single probe does
                log.exception("obState probe failed")
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ob-state-monitor")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
