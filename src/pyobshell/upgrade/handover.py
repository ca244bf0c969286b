"""Has a stopped zone handed everything over? Its servers must lead no log stream and hold no
root service before any of its observers is killed.

No other upgrade tool checks this (they trust ``STOP ZONE`` and wait only for the zone to turn
INACTIVE); killing an observer that still leads costs the clients a lease of errors. The Stop
zone task (:mod:`pyobshell.upgrade.tasks.zones`) polls :func:`read_handover` until it is done
or ``leader_drain_wait_s`` has passed, then fails with :func:`stuck_message`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyobshell.ob import leaders
from pyobshell.ob.leaders import LsLeader, RootServiceHolder
from pyobshell.ob.sql import Sql

MAX_NAMED = 20  # a log line names at most this many log streams (then "and N more")


@dataclass(frozen=True)
class Handover:
    zone: str
    led: tuple[LsLeader, ...]  # log streams still led from the zone
    root_service: tuple[RootServiceHolder, ...]  # root service still in the zone
    total_streams: int  # log streams of the cluster, for the log

    @property
    def done(self) -> bool:
        return not self.led and not self.root_service

    def summary(self) -> str:
        if self.done:
            return f"{self.zone} leads none of {self.total_streams} log streams and holds no root service"
        parts = []
        if self.led:
            named = ", ".join(leader.describe() for leader in self.led[:MAX_NAMED])
            more = f" and {len(self.led) - MAX_NAMED} more" if len(self.led) > MAX_NAMED else ""
            parts.append(f"{len(self.led)} log stream(s) still led from {self.zone}: {named}{more}")
        if self.root_service:
            parts.append(f"root service on {', '.join(h.server for h in self.root_service)}")
        return "; ".join(parts)


def handover_of(zone: str, all_leaders: list[LsLeader], holders: list[RootServiceHolder]) -> Handover:
    led = tuple(sorted((leader for leader in all_leaders if leader.zone == zone),
                       key=lambda leader: (leader.tenant_id, leader.ls_id, leader.server)))
    in_zone = tuple(holder for holder in holders if holder.zone == zone)
    return Handover(zone, led, in_zone, len({(leader.tenant_id, leader.ls_id) for leader in all_leaders}))


def read_handover(sql: Sql, zone: str) -> Handover:
    """Raises :class:`pyobshell.ob.leaders.LeaderViewError` on rows it cannot trust."""
    return handover_of(zone, leaders.ls_leaders(sql), leaders.root_service_holders(sql))


def stuck_message(handover: Handover, waited_s: float) -> str:
    """The failure log: what is still in the zone, that nothing was killed, what to do."""
    example = ""
    if handover.led:
        first = handover.led[0]
        tenant = first.tenant_name or str(first.tenant_id)
        example = (f" (e.g. {leaders.switch_leader_statement(tenant, first.ls_id, '<ip:port of an ACTIVE zone>')})")
    return (f"leaders did not leave {handover.zone} within {waited_s:.0f} s: {handover.summary()}. "
            f"No observer was killed and {handover.zone} stays stopped. Find out why they cannot move "
            f"(GV$OB_LOG_STAT, the observer's election log), move them by hand{example} or fix their server, "
            f"then RETRY this node; it waits again")
