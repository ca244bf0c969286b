"""The event-driven scheduler loop.

A pass runs whenever something happened (a sub-task finished, an operator was applied, a DAG
was created): :meth:`Scheduler.wake` may be called from any thread. Passes repeat at once
while they change rows, so a DAG walks through its stages without waiting. The periodic tick
is only a safety net (timeouts, lost wake-ups, rows changed by another process).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.exc import OperationalError

from pyobshell.aio import cancel_and_wait, set_event_threadsafe, wait_event
from pyobshell.engine.advance import DagAdvancer


class Scheduler:
    def __init__(self, advancer: DagAdvancer, *, tick_seconds: float = 1.0):
        self.advancer = advancer
        self.tick_seconds = tick_seconds
        self._thread: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.passes = 0

    def start(self) -> None:
        """Start the loop on the running event loop."""
        if self._task is not None:
            return
        # One thread: passes never overlap, and blocking database work stays off the loop.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pyobshell-scheduler")
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = self._loop.create_task(self._run(), name="pyobshell-scheduler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None

    def wake(self) -> None:
        """Ask for a pass soon. Thread-safe; a no-op before start or after stop."""
        set_event_threadsafe(self._loop, self._wake)

    async def _run(self) -> None:
        assert self._loop is not None and self._wake is not None and self._thread is not None
        log = self.advancer.log
        log.info("scheduler started (tick %.1f s)", self.tick_seconds)
        while True:
            self._wake.clear()
            try:
                changed = await self._loop.run_in_executor(self._thread, self.advancer.advance_all)
            except asyncio.CancelledError:
                raise
            except OperationalError as exc:  # the store does not answer: try again on the next tick
                reason = str(exc.orig if exc.orig is not None else exc).splitlines()[0]
                log.warning("scheduler pass skipped: the task store does not answer (%s)", reason)
                changed = False
            except Exception:
                log.exception("scheduler pass failed")
                changed = False
            self.passes += 1
            if changed:
                continue
            await wait_event(self._wake, self.tick_seconds)
