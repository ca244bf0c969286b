"""`cluster upgrade`'s gate options and how the CLI shows a paused DAG (pure, no agent)."""

from __future__ import annotations

import pytest

from pyobshell.cli.dag_view import build_view, pause_line, section_names
from pyobshell.cli.gate_options import duration_s, error_rate, gate_fields
from pyobshell.cli.upgrade_flow import gate_summary
from tests.cli.dag_factory import dag, node


def test_the_issue_s_example_becomes_the_body_fields() -> None:
    fields = gate_fields(["zone1"], "10m", True, "500ms", "1%", None)
    assert fields == {"pause_after_zones": ["zone1"], "soak_s": 600.0, "hold_before_finalize": True,
                      "slo": {"max_p99_ms": 500.0, "max_error_rate": 0.01}}
    assert gate_fields([], None, False, None, None, None) == {}  # nothing asked: the usual DAG
    assert gate_fields([], None, False, "0.5s", None, "10s")["slo"] == {"max_p99_ms": 500.0, "window_s": 10.0}
    assert (duration_s("--soak", "90"), duration_s("--soak", "1h"), duration_s("--slo-p99", "250", "ms")) == (90, 3600, 0.25)
    assert error_rate("--slo-errors", "0.02") == 0.02


@pytest.mark.parametrize(("call", "named"), [
    (lambda: duration_s("--soak", "ten minutes"), "--soak"),
    (lambda: error_rate("--slo-errors", "150%"), "--slo-errors"),
    (lambda: error_rate("--slo-errors", "lots"), "--slo-errors"),
    (lambda: gate_fields([], None, False, None, None, "10s"), "--slo-window"),
])
def test_bad_gate_options_name_the_option(call, named) -> None:
    with pytest.raises(ValueError, match=named):
        call()


def test_a_waiting_gate_and_a_pause_say_how_to_go_on() -> None:
    gated = dag([node(1, "Start zone1", "SUCCEED"), node(2, "Wait for approval after zone1", "PENDING")],
                state="PAUSED", stage=2)
    gated.additional_data = {"pause": {"reason": "Wait for approval after zone1: …", "in_effect": True,
                                       "gate": "Wait for approval after zone1"}}
    assert pause_line(gated) == "waiting for approval — pyobshell task resume 11 (Wait for approval after zone1)"
    assert build_view(gated).pause == pause_line(gated)
    slo = dag([node(1, "Stop zone2", "RUNNING")])
    slo.additional_data = {"pause": {"reason": "SLO breach: p99 812 ms > 500 ms", "in_effect": False, "gate": None}}
    assert pause_line(slo) == ("pausing after the running step — SLO breach: p99 812 ms > 500 ms; "
                               "then: pyobshell task resume 11")
    assert pause_line(dag([node(1, "a", "RUNNING")])) == ""


def test_gate_nodes_belong_to_their_zone_and_the_hold_to_the_finish() -> None:
    names = ["Check the python environment", "Backup parameters", "Execute upgrade health checker script",
             "Stop zone1", "Start zone1", "Soak after zone1", "Wait for approval after zone1",
             "Wait for approval to finalize", "Execute upgrade post script", "Remove upgrade check task dir"]
    assert section_names(names) == ["packages", "checks", "zone1", "zone1", "zone1", "zone1", "zone1",
                                    "finish", "finish", "cleanup"]


def test_the_plan_summary_names_every_gate() -> None:
    plan = {"pause_after_zones": ["zone1"], "soak_s": 600.0, "hold_before_finalize": True,
            "slo": {"max_p99_ms": 500.0, "max_error_rate": 0.01, "window_s": 30.0}}
    assert gate_summary(plan) == ("wait for approval after zone1; soak 600 s after every zone; wait for approval "
                                  "before the point of no return; pause when the probe breaches p99 ≤ 500 ms and "
                                  "errors ≤ 1 % over 30 s")
    assert gate_summary({"soak_s": 0.0, "slo": None}) == ""
