"""Stop <zone> / Start <zone>: the zone status change around a rolling zone's restart.

The statement is issued, then ``DBA_OB_ZONES`` is polled (fast first, backing off) until the
zone shows the wanted status. Both are safe to retry: a zone already in the wanted status is
accepted (OceanBase answers START ZONE on an active zone with 4633, "zone status not match").
"""

from __future__ import annotations

from pyobshell.engine import Node, TaskContext, register_task_type
from pyobshell.errors import ObshellError
from pyobshell.ob import zones
from pyobshell.upgrade.tasks import context as ctx
from pyobshell.upgrade.tasks.base import PollResult, UpgradeTask, describe
from pyobshell.upgrade.tasks.codes import ASYNC_OPERATION_TIMEOUT, CONTEXT_INVALID



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
            self.log_info(f"{zone} is already {self.wanted} ({describe(exc)}); nothing to do")
            return
        done, elapsed, seen = self.poll_until(f"{zone} {self.wanted}", lambda: self._probe(zone),
                                              self.env.timings.zone_wait_s)
        if not done:
            raise ASYNC_OPERATION_TIMEOUT(f"{self.verb.lower()} zone timeout: {zone} still {seen} after "
                                          f"{elapsed:.0f} s; check DBA_OB_ZONES and the rootservice log, then retry")
        self.log_info(f"{zone} {self.wanted} after {elapsed:.1f} s")

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


@register_task_type
class StartZoneTask(_ZoneStatusTask):
    name = "Start zone"
    can_retry = can_continue = True
    verb, doing, wanted = "START", "starting", "ACTIVE"


def stop_zone_node(zone: str) -> Node:
    return Node(StopZoneTask(name=f"Stop {zone}"), context=TaskContext(params={ctx.ZONE: zone}))


def start_zone_node(zone: str) -> Node:
    return Node(StartZoneTask(name=f"Start {zone}"), context=TaskContext(params={ctx.ZONE: zone}))
