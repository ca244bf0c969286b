"""The operator gates' nodes: a gate waits for approval, a soak waits a while with the probe
watching.

A gate needs no code of its own to wait: its node carries the engine's ``approval_gate`` param,
and the scheduler, on reaching it, pauses the DAG with the gate's reason instead of starting it.
A RESUME is the approval; only then does the gate's sub-task run, and it records the approval.
So a gate costs nothing while it waits, and a waiting gate survives any restart or maintainer
failover (the pause is a column of the DAG in the cluster store).

A soak sleeps ``soakSeconds`` while the maintainer's SQL probe (and the SLO guard, when asked
for) keeps watching the zone just started. An interrupted soak (agent restart) soaks its full
time again: "at least this long" holds.
"""

from __future__ import annotations

import time

from pyobshell.engine import Node, TaskContext, register_task_type
from pyobshell.engine.model import APPROVAL_GATE_KEY, TIMEOUT_KEY
from pyobshell.upgrade.tasks import context as ctx
from pyobshell.upgrade.tasks.base import UpgradeTask
from pyobshell.upgrade.tasks.codes import CONTEXT_INVALID

SOAK_PROGRESS_EVERY_S = 30.0
SOAK_TIMEOUT_MARGIN_S = 600.0


@register_task_type
class ApprovalGateTask(UpgradeTask):
    name = "Wait for approval"
    can_continue = can_rollback = can_retry = can_cancel = can_pass = True

    def execute(self) -> None:
        self.log_info(f"approved (RESUME): {self.context.get_param(APPROVAL_GATE_KEY) or self.task_name}; going on")

    def rollback(self) -> None:
        """An approval has nothing to undo."""


@register_task_type
class SoakTask(UpgradeTask):
    name = "Soak"
    can_continue = can_rollback = can_retry = can_cancel = can_pass = True

    def execute(self) -> None:
        seconds = self.context.get_param(ctx.SOAK_S)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise CONTEXT_INVALID(f"node '{self.task_name}' has no valid {ctx.SOAK_S} param (got {seconds!r})")
        zone = ctx.zone_param(self.context)
        self.log_info(f"soaking {zone} for {seconds:g} s while the SQL probe watches; the next zone waits")
        deadline = time.monotonic() + float(seconds)
        while (left := deadline - time.monotonic()) > 0:
            self.sleep(min(left, SOAK_PROGRESS_EVERY_S))
            if deadline - time.monotonic() > 0:
                self.log_info(f"soaking {zone}: {deadline - time.monotonic():.0f} s left")
        self.log_info(f"{zone} soaked {seconds:g} s; the next zone may stop")

    def rollback(self) -> None:
        """Waiting has nothing to undo."""


def approval_gate_node(name: str, reason: str, zone: str = "") -> Node:
    task = ApprovalGateTask(name=name)
    return Node(task, context=TaskContext(params={APPROVAL_GATE_KEY: reason, ctx.ZONE: zone}))


def soak_node(name: str, zone: str, seconds: float) -> Node:
    params: dict[str, object] = {ctx.SOAK_S: seconds, ctx.ZONE: zone}
    if seconds + SOAK_TIMEOUT_MARGIN_S > 3600:  # the engine's default sub-task timeout
        params[TIMEOUT_KEY] = int(seconds + SOAK_TIMEOUT_MARGIN_S)
    return Node(SoakTask(name=name), context=TaskContext(params=params))
