"""The maintainer lease on ``task_maintainer`` row 1, measured on the database clock.

obshell's version mixes units (microseconds read as seconds, MySQL datetime subtraction taken
as seconds) and renews every 4 s a lease of 5 s. Here every comparison is done by the database
in one statement, ``TIMESTAMPDIFF(MICROSECOND, active_time, NOW(6))``, so agents' clocks do not
matter, and changes are compare-and-set UPDATEs on the row:

* **take**: ``WHERE id = 1 AND (row names this agent OR the lease expired)``; one affected row
  makes this agent the maintainer;
* **renew**: ``WHERE id = 1 AND row names this agent`` (``counter + 1``, ``active_time = NOW(6)``).

Never two maintainers: a maintainer only believes it is one until ``lease`` seconds (on its own
monotonic clock) after it *sent* its last successful renew; the database stamped that renew later,
so another agent's take (which needs ``lease`` seconds of database time after the stamp) can
only succeed after the old maintainer has stopped believing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, text

from pyobshell.engine.model import AgentInfo

ROW_ID = 1

_READ = text(
    "SELECT id, agent_ip, agent_port, counter, agent_time, active_time, "
    "TIMESTAMPDIFF(MICROSECOND, active_time, NOW(6)) AS idle_us FROM task_maintainer WHERE id = :id"
)
_TAKE = text(
    "UPDATE task_maintainer SET agent_ip = :ip, agent_port = :port, counter = 1, agent_time = :agent_time, "
    "active_time = NOW(6) WHERE id = :id AND ((agent_ip = :ip AND agent_port = :port) OR active_time IS NULL "
    "OR TIMESTAMPDIFF(MICROSECOND, active_time, NOW(6)) >= :lease_us)"
)
_RENEW = text(
    "UPDATE task_maintainer SET counter = counter + 1, agent_time = :agent_time, active_time = NOW(6) "
    "WHERE id = :id AND agent_ip = :ip AND agent_port = :port"
)
_ENSURE = text("INSERT INTO task_maintainer (id, agent_ip, agent_port, counter, agent_time, active_time) "
               "VALUES (:id, '', 0, 0, 0, '1970-01-02 00:00:00')")


@dataclass(frozen=True)
class MaintainerRow:
    agent: AgentInfo | None
    counter: int
    agent_time: int
    active_time: datetime | None
    idle_s: float  # seconds since the last renew, on the database clock

    def is_active(self, lease_s: float) -> bool:
        return self.agent is not None and self.idle_s < lease_s


class MaintainerElection:
    """The SQL of the election (blocking; the coordinator calls it from a worker thread)."""

    def __init__(self, engine: Engine, me: AgentInfo, lease_s: float,
                 monotonic: Callable[[], float] = time.monotonic):
        self.engine = engine
        self.me = me
        self.lease_s = lease_s
        self._monotonic = monotonic
        self._believed_until = 0.0

    # -- reads ---------------------------------------------------------------------------
    def read(self) -> MaintainerRow:
        with self.engine.connect() as conn:
            row = conn.execute(_READ, {"id": ROW_ID}).first()
            if row is None:
                conn.rollback()
                self._ensure_row()
                row = conn.execute(_READ, {"id": ROW_ID}).first()
        if row is None:
            raise RuntimeError("task_maintainer row 1 is missing")
        agent = AgentInfo(row.agent_ip, int(row.agent_port)) if row.agent_ip else None
        idle_us = row.idle_us if row.idle_us is not None else 10**15
        return MaintainerRow(agent, int(row.counter or 0), int(row.agent_time or 0), row.active_time,
                             float(idle_us) / 1_000_000)

    @property
    def is_maintainer(self) -> bool:
        """This agent holds the lease, judged on its own clock with the safety margin above."""
        return self._monotonic() < self._believed_until

    # -- writes --------------------------------------------------------------------------
    def try_take(self) -> bool:
        """Become the maintainer if the lease expired (or already names this agent)."""
        return self._cas(_TAKE)

    def renew(self) -> bool:
        """Extend the lease; False means this agent is no longer the maintainer."""
        return self._cas(_RENEW)

    def resign(self) -> None:
        """Forget the role locally (the lease then runs out on its own)."""
        self._believed_until = 0.0

    def _cas(self, statement: object) -> bool:
        sent = self._monotonic()
        params = {"id": ROW_ID, "ip": self.me.ip, "port": self.me.port, "agent_time": int(time.time()),
                  "lease_us": int(self.lease_s * 1_000_000)}
        try:
            with self.engine.begin() as conn:
                won = conn.execute(statement, params).rowcount == 1  # type: ignore[arg-type]
        except Exception:
            if self._monotonic() >= self._believed_until:
                self._believed_until = 0.0
            raise
        self._believed_until = sent + self.lease_s if won else 0.0
        return won

    def _ensure_row(self) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(_ENSURE, {"id": ROW_ID})
        except Exception:  # created by another agent meanwhile
            pass
