"""Stop <zone> / Start <zone>: the zone status change around a rolling zone's restart.

The statement is issued, then ``DBA_OB_ZONES`` is polled (fast first, backing off) until the
zone shows the wanted status. Both are safe to retry: a zone already in the wanted status is
accepted (OceanBase answers START ZONE on an active zone with 4633, "zone status not match").

Stop zone then waits, within ``leader_drain_wait_s``, until the zone leads no log stream and
holds no root service (:mod:`pyobshell.upgrade.handover`): only then may the next node kill
its observers. On timeout it fails naming what is still led from the zone; nothing has been
killed, and a RETRY (the zone already INACTIVE) waits again.
"""

from __future__ import annotations

from pyobshell.engine import Node, TaskContext, register_task_type
from pyobshell.errors import ObshellError
from pyobshell.ob import zones
from pyobshell.ob.leaders import LeaderViewError
from pyobshell.upgrade import handover
from pyobshell.upgrade.tasks import context as ctx
from pyobshell.upgrade.tasks.base import PollResult, UpgradeTask, describe
from pyobshell.upgrade.tasks.codes import ASYNC_OPERATION_TIMEOUT, CONTEXT_INVALID, LEADERS_NOT_DRAINED, VIEW_UNEXPECTED


class _ZoneStatusTask(UpgradeTask):
    verb = ""  # STOP | START
    doing = ""  # stopping | starting
    wanted = ""  # INACTIVE | ACTIVE

    def execute(self) -> None:
        zone = ctx.zone_param(self.context)
        if not zones.is_zone_name(zone):
            raise CONTEXT_INVALID(f"node '{self.task_name}' has no valid {ctx.ZONE} param (got {zone!r})")
        statement = zones.zone_statement(self.verb, zone)
        self.log_info(f"{self.doing} {zone}: {statement}")
        try:
            self.env.execute(statement, None)
        except ObshellError as exc:
            status = self._status(zone)
            if status != self.wanted:
                raise exc.wrap(f"{statement} failed (zone is {status})")
            self.log_info(f"{zone} is already {self.wanted} ({describe(exc)})")
        else:
            self._wait_status(zone, statement)
        self.after_status(zone)

    def _wait_status(self, zone: str, statement: str) -> None:
        done, elapsed, seen = self.poll_until(f"{zone} {self.wanted}", lambda: self._probe(zone),
                                              self.env.timings.zone_wait_s)
        if not done:
            raise ASYNC_OPERATION_TIMEOUT(f"{self.verb.lower()} zone timeout: {zone} still {seen} after "
                                          f"{elapsed:.0f} s; check DBA_OB_ZONES and the rootservice log, then retry")
        self.log_info(f"{zone} {self.wanted} after {elapsed:.1f} s")

    def after_status(self, zone: str) -> None:
        """What to wait for once the zone has the wanted status (nothing by default)."""

    def _status(self, zone: str) -> str:
        try:
            status = zones.zone_status(self.env, zone)
        except ObshellError as exc:
            return f"unknown ({exc.message})"
        return status if status is not None else "missing"

    def _probe(self, zone: str) -> PollResult:
        status = self._status(zone)
        return PollResult(status == self.wanted, status)


@register_task_type
class StopZoneTask(_ZoneStatusTask):
    name = "Stop zone"
    can_continue = can_retry = True
    verb, doing, wanted = "STOP", "stopping", "INACTIVE"

    def after_status(self, zone: str) -> None:
        """Wait until the zone has handed its leaders and the root service over."""
        budget = self.env.timings.leader_drain_wait_s
        last: list[handover.Handover] = []

        def probe() -> PollResult:
            state = handover.read_handover(self.env, zone)
            last[:] = [state]
            return PollResult(state.done, state.summary())

        self.log_info(f"waiting up to {budget:.0f} s for {zone} to hand its log stream leaders and root service over")
        try:
            done, elapsed, seen = self.poll_until(f"{zone} to hand its leaders over", probe, budget)
        except LeaderViewError as exc:  # never decide on rows that cannot be read: fail at once
            raise VIEW_UNEXPECTED(f"cannot tell whether {zone} still leads log streams: {exc}; no observer "
                                  f"was killed and {zone} stays stopped. Check the view on the observer, "
                                  "then RETRY this node") from None
        if not done:
            if not last:
                raise LEADERS_NOT_DRAINED(f"could not read the leaders of {zone} within {elapsed:.0f} s ({seen}); "
                                          f"no observer was killed and {zone} stays stopped; RETRY this node")
            raise LEADERS_NOT_DRAINED(handover.stuck_message(last[0], elapsed))
        self.log_info(f"{seen} after {elapsed:.1f} s: its observers may stop")


@register_task_type
class StartZoneTask(_ZoneStatusTask):
    name = "Start zone"
    can_retry = can_continue = True
    verb, doing, wanted = "START", "starting", "ACTIVE"


def stop_zone_node(zone: str) -> Node:
    return Node(StopZoneTask(name=f"Stop {zone}"), context=TaskContext(params={ctx.ZONE: zone}))


def start_zone_node(zone: str) -> Node:
    return Node(StartZoneTask(name=f"Start {zone}"), context=TaskContext(params={ctx.ZONE: zone}))
