"""The gate and soak nodes' sub-tasks, run as the engine runs them (no cluster)."""

from __future__ import annotations

import time

import pytest
from tests.upgrade.tasks.task_fakes import run_task

from pyobshell.engine.model import APPROVAL_GATE_KEY, TIMEOUT_KEY
from pyobshell.errors import ObshellError
from pyobshell.upgrade.tasks.gates import ApprovalGateTask, SoakTask, approval_gate_node, soak_node


def test_a_soak_waits_its_time_and_says_so() -> None:
    began = time.monotonic()
    ran = run_task(SoakTask(name="Soak after zone1"), {"soakSeconds": 0.3, "zone": "zone1"})
    assert time.monotonic() - began >= 0.3
    assert ran.logs[0].startswith("soaking zone1 for 0.3 s while the SQL probe watches")
    assert ran.logs[-1] == "zone1 soaked 0.3 s; the next zone may stop"


@pytest.mark.parametrize("seconds", [None, -1, "10", True])
def test_a_soak_without_a_valid_time_fails_naming_it(seconds) -> None:
    with pytest.raises(ObshellError, match="soakSeconds"):
        run_task(SoakTask(name="Soak after zone1"), {"soakSeconds": seconds, "zone": "zone1"})


def test_an_approved_gate_logs_the_approval() -> None:
    ran = run_task(ApprovalGateTask(name="Wait for approval after zone1"),
                   {APPROVAL_GATE_KEY: "Wait for approval after zone1: zone1 runs the new build"})
    assert ran.logs == ["approved (RESUME): Wait for approval after zone1: zone1 runs the new build; going on"]


def test_nodes_carry_the_gate_reason_and_a_long_soak_s_timeout() -> None:
    gate = approval_gate_node("Wait for approval to finalize", "hold")
    assert (gate.name, gate.context.get_param(APPROVAL_GATE_KEY)) == ("Wait for approval to finalize", "hold")
    assert not soak_node("Soak after zone1", "zone1", 60).context.has_param(TIMEOUT_KEY)
    assert soak_node("Soak after zone1", "zone1", 7200).context.get_param(TIMEOUT_KEY) == 7800
