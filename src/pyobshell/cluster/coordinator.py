"""The coordinator: runs the maintainer election and tells listeners when the role changes.

Identities as in obshell: FAULTY (no maintainer known, e.g. the database is unreachable),
MAINTAINER, WATCHER. The maintainer renews every ``renew_s``; a watcher reads the row as often
and takes over as soon as the lease (on the database clock) has run out, so a dead maintainer is
replaced within ``lease_s + renew_s``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from enum import IntEnum

from pyobshell.aio import cancel_and_wait, set_event_threadsafe, wait_event
from pyobshell.cluster.maintainer_election import MaintainerElection, MaintainerRow
from pyobshell.cluster.settings import ClusterSettings
from pyobshell.engine.model import AgentInfo

log = logging.getLogger(__name__)

RoleListener = Callable[[bool], None]
"""Called on the event loop with True when this agent became maintainer, False when it stopped."""


class Identity(IntEnum):
    FAULTY = 1
    MAINTAINER = 2
    WATCHER = 3


class Coordinator:
    def __init__(self, election: MaintainerElection, settings: ClusterSettings):
        self.election = election
        self.settings = settings
        self.identity = Identity.FAULTY
        self.last_row: MaintainerRow | None = None
        self._listeners: list[RoleListener] = []
        self._task: asyncio.Task[None] | None = None
        self._kick = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def is_maintainer(self) -> bool:
        return self.identity == Identity.MAINTAINER and self.election.is_maintainer

    @property
    def maintainer(self) -> AgentInfo | None:
        """The maintainer as last seen (this agent, or the one the row names)."""
        if self.is_maintainer:
            return self.election.me
        if self.identity == Identity.WATCHER and self.last_row is not None:
            return self.last_row.agent
        return None

    def add_listener(self, listener: RoleListener) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._run(), name="pyobshell-coordinator")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        self._set(Identity.FAULTY)
        self.election.resign()

    def check_soon(self) -> None:
        """Look at the row now (a peer reported the maintainer unreachable). Thread-safe: the
        report comes from a worker thread."""
        set_event_threadsafe(self._loop, self._kick)

    async def _run(self) -> None:
        while True:
            self._kick.clear()
            try:
                self._set(await asyncio.to_thread(self._step))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is unreachable: no maintainer known
                log.warning("maintainer election: %s: %s", type(exc).__name__, exc)
                self._set(Identity.MAINTAINER if self.election.is_maintainer else Identity.FAULTY)
            # Stop scheduling the moment the lease may have run out, even if a renew hangs.
            if self.identity == Identity.MAINTAINER and not self.election.is_maintainer:
                self._set(Identity.FAULTY)
            await wait_event(self._kick, self.settings.renew_s)

    def _step(self) -> Identity:
        """One round (in a worker thread): the identity this agent has now."""
        if self.identity == Identity.MAINTAINER and self.election.renew():
            return Identity.MAINTAINER
        row = self.election.read()
        self.last_row = row
        if not row.is_active(self.election.lease_s) or row.agent == self.election.me:
            if self.election.try_take():
                self.last_row = self.election.read()
                return Identity.MAINTAINER
            row = self.election.read()
            self.last_row = row
        return Identity.WATCHER if row.is_active(self.election.lease_s) else Identity.FAULTY

    def _set(self, identity: Identity) -> None:
        old, self.identity = self.identity, identity
        was, now = old == Identity.MAINTAINER, identity == Identity.MAINTAINER
        if old != identity:
            maintainer = self.last_row.agent if self.last_row is not None else None
            log.info("coordinator: %s -> %s (maintainer %s)", old.name, identity.name,
                     self.election.me if now else maintainer)
        if was != now:
            for listener in self._listeners:
                try:
                    listener(now)
                except Exception:
                    log.exception("maintainer role listener failed")
