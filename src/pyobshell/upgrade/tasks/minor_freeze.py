"""Minor freeze before stop server (reference §6.5, internals §2.4): dump the memtables of the
servers about to restart, so they replay less log when they come back."""

from __future__ import annotations

from typing import Any

from pyobshell.engine import Node, TaskContext, register_task_type
from pyobshell.ob.freeze import lowest_checkpoint, minor_freeze, minor_freeze_statement
from pyobshell.ob.servers import active_servers
from pyobshell.upgrade.tasks import context as ctx
from pyobshell.upgrade.tasks.base import PollResult, UpgradeTask
from pyobshell.upgrade.tasks.codes import CONTEXT_INVALID, MINOR_FREEZE_TIMEOUT

GLOBAL, ZONE = "GLOBAL", "ZONE"


def parse_scope(raw: Any) -> tuple[str, list[str]]:
    """``{"type": "GLOBAL"|"ZONE", "target": [zone, ...]}`` → (type, zones)."""
    if not isinstance(raw, dict) or str(raw.get("type", "")).upper() not in (GLOBAL, ZONE):
        raise CONTEXT_INVALID(f"{ctx.SCOPE} {raw!r} must be {{type: GLOBAL|ZONE, target: [zones]}}")
    kind = str(raw["type"]).upper()
    target = raw.get("target") or []
    if kind == ZONE and (not isinstance(target, list) or not target):
        raise CONTEXT_INVALID(f"{ctx.SCOPE} of type ZONE names no zone")
    return kind, [str(zone) for zone in target] if kind == ZONE else []


@register_task_type
class MinorFreezeTask(UpgradeTask):
    name = "Minor freeze before stop server"
    can_continue = can_rollback = can_retry = can_cancel = can_pass = True

    def execute(self) -> None:
        kind, zones = parse_scope(self.context.get_param(ctx.SCOPE))
        servers = active_servers(self.env, zones)
        if not servers:
            self.log_info(f"no active server in scope {kind} {zones}: nothing to freeze")
            return
        before = {server: lowest_checkpoint(self.env, server) for server in servers}
        self.log_info(f"freezing {len(servers)} server(s): {minor_freeze_statement(servers)}")
        minor_freeze(self.env, servers)
        done, elapsed, seen = self.poll_until("every frozen server's checkpoint to move",
                                              lambda: self._probe(before), self.env.timings.freeze_wait_s)
        if not done:
            raise MINOR_FREEZE_TIMEOUT(f"minor freeze did not finish within {elapsed:.0f} s ({seen}); "
                                       "retry, or pass this node to restart without it")
        self.log_info(f"minor freeze of {', '.join(servers)} finished after {elapsed:.1f} s")

    def rollback(self) -> None:
        """A freeze needs no undo."""

    def _probe(self, before: dict[str, int]) -> PollResult:
        waiting = []
        for server, old in before.items():
            new = lowest_checkpoint(self.env, server)
            if not (new == 0 or new > old):  # 0: the server has no log stream
                waiting.append(f"{server} checkpoint {new}")
        return PollResult(not waiting, "waiting for " + ", ".join(waiting) if waiting else "all moved")


def minor_freeze_node(zones: list[str] | None = None) -> Node:
    """GLOBAL scope when ``zones`` is empty, else the ZONE scope of those zones."""
    scope = {"type": ZONE, "target": list(zones)} if zones else {"type": GLOBAL, "target": []}
    return Node(MinorFreezeTask(), context=TaskContext(params={ctx.SCOPE: scope}))
