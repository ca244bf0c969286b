"""Minor freeze before stop server (reference §6.5, internals §2.4): dump the memtables of the
servers about to restart, so they replay less log when they come back."""

from __future__ import annotations

from typing import Any

from pyobshell.engine import Node, TaskContext, register_task_type
from pyobshell.upgrade.tasks import upgrade_context as ctx
from pyobshell.upgrade.tasks.base import PollResult, UpgradeTask
from pyobshell.upgrade.tasks.codes import CONTEXT_INVALID, MINOR_FREEZE_TIMEOUT

SERVERS_SQL = "SELECT SVR_IP, SVR_PORT, ZONE, STATUS FROM oceanbase.DBA_OB_SERVERS"
CHECKPOINT_SQL = ("SELECT checkpoint_scn FROM oceanbase.__all_virtual_ls_info WHERE svr_ip = %s AND svr_port = %s "
                  "ORDER BY checkpoint_scn ASC LIMIT 1")
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
        servers = self._servers(zones)
        if not servers:
            self.log_info(f"no active server in scope {kind} {zones}: nothing to freeze")
            return
        before = {server: self._checkpoint(server) for server in servers}
        statement = "ALTER SYSTEM MINOR FREEZE SERVER = (" + ", ".join(f"'{s}'" for s in servers) + ")"
        self.log_info(f"freezing {len(servers)} server(s): {statement}")
        self.env.execute(statement, None)
        done, elapsed, seen = self.poll_until("every frozen server's checkpoint to move",
                                              lambda: self._probe(before), self.env.timings.freeze_wait_s)
        if not done:
            raise MINOR_FREEZE_TIMEOUT(f"minor freeze did not finish within {elapsed:.0f} s ({seen}); "
                                       "retry, or pass this node to restart without it")
        self.log_info(f"minor freeze of {', '.join(servers)} finished after {elapsed:.1f} s")

    def rollback(self) -> None:
        """A freeze needs no undo."""

    def _servers(self, zones: list[str]) -> list[str]:
        rows = self.env.query(SERVERS_SQL, None)
        return [f"{r['SVR_IP']}:{int(r['SVR_PORT'])}" for r in rows
                if str(r["STATUS"]).upper() == "ACTIVE" and (not zones or r["ZONE"] in zones)]

    def _checkpoint(self, server: str) -> int:
        ip, _, port = server.rpartition(":")
        rows = self.env.query(CHECKPOINT_SQL, (ip, int(port)))
        return int(rows[0]["checkpoint_scn"]) if rows and rows[0]["checkpoint_scn"] is not None else 0

    def _probe(self, before: dict[str, int]) -> PollResult:
        waiting = []
        for server, old in before.items():
            new = self._checkpoint(server)
            if not (new == 0 or new > old):  # 0: the server has no log stream
                waiting.append(f"{server} checkpoint {new}")
        return PollResult(not waiting, "waiting for " + ", ".join(waiting) if waiting else "all moved")


def minor_freeze_node(zones: list[str] | None = None) -> Node:
    """GLOBAL scope when ``zones`` is empty, else the ZONE scope of those zones."""
    scope = {"type": ZONE, "target": list(zones)} if zones else {"type": GLOBAL, "target": []}
    return Node(MinorFreezeTask(), context=TaskContext(params={ctx.SCOPE: scope}))
