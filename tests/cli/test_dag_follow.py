"""Following a DAG: back-off while nothing moves, fast again after a change, another agent
when one stops answering, a clear end when none answers."""

from __future__ import annotations

import time

import pytest

from tests.cli.dag_factory import upgrade_dag
from pyobshell.cli.dag_follow import (
    FIRST_DELAY_S,
    MAX_DELAY_S,
    AgentsGone,
    DagSource,
    LinePrinter,
    follow,
)
from pyobshell.cli.output import Output
from pyobshell.client import ObshellApiError, ObshellConnectionError
from pyobshell.wire.task import DagDetailDTO


class FakeAgent:
    """Answers ``dag()`` from a script: a DTO, or an exception to raise."""

    def __init__(self, name: str, answers: list):
        self.base_url = f"http://{name}"
        self.answers = answers
        self.calls = 0

    def dag(self, gid: str, show_details: bool = True) -> DagDetailDTO:
        self.calls += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def down() -> ObshellConnectionError:
    return ObshellConnectionError("connection refused")


def test_polls_fast_then_backs_off_and_is_fast_again_after_a_change() -> None:
    same = upgrade_dag(done=3)
    answers = [same] * 8 + [upgrade_dag(done=4)] + [upgrade_dag(done=26 - 1, failed=True)]
    sleeps: list[float] = []
    final = follow(DagSource([FakeAgent("a", answers)]), "11", lambda d: None, lambda m: None, sleep=sleeps.append)
    assert final.state == "FAILED"
    assert sleeps[0] == FIRST_DELAY_S
    assert sleeps[1:8] == sorted(sleeps[1:8]) and sleeps[7] == MAX_DELAY_S  # backing off to the cap
    assert sleeps[8] == FIRST_DELAY_S  # stage 5 started: look again soon


def test_another_agent_answers_while_the_first_is_down() -> None:
    first = FakeAgent("a", [down()])
    second = FakeAgent("b", [upgrade_dag(done=3), upgrade_dag(done=25, failed=True)])
    source = DagSource([first, second])
    final = follow(source, "11", lambda d: None, lambda m: None, sleep=lambda s: None)
    assert final.state == "FAILED" and source.agent == "http://b"
    assert first.calls == 1  # the agent that answered is asked first from then on


def test_a_request_error_is_not_retried_elsewhere() -> None:
    first = FakeAgent("a", [ObshellApiError("Task.NotFound", "no such task", 404)])
    second = FakeAgent("b", [upgrade_dag(done=3)])
    with pytest.raises(ObshellApiError):
        DagSource([first, second]).fetch("99")
    assert second.calls == 0


def test_gives_up_when_no_agent_answers_for_longer_than_the_patience() -> None:
    troubles: list[str] = []
    source = DagSource([FakeAgent("a", [down()]), FakeAgent("b", [ObshellApiError("X", "store down", 500)])])
    with pytest.raises(AgentsGone, match="no agent answered"):
        follow(source, "11", lambda d: None, troubles.append, patience_s=0.05, sleep=lambda s: time.sleep(0.02))
    assert troubles and "no answer" in troubles[0]


def test_plain_output_is_one_line_per_change(capsys: pytest.CaptureFixture[str]) -> None:
    printer = LinePrinter(Output())
    printer.update(upgrade_dag(done=9))
    first = capsys.readouterr().out.splitlines()
    printer.update(upgrade_dag(done=9))
    assert capsys.readouterr().out == ""  # nothing changed, nothing printed
    printer.update(upgrade_dag(done=10))
    second = capsys.readouterr().out.splitlines()
    assert first[0].startswith("task 11 OB rolling upgrade") and "RUNNING" in first[0]
    assert "[1/26] packages: Check the python environment SUCCEED 1.0s | Check the python environment ok" in first
    assert first[-1] == "[10/26] zone1: Stop zone1 RUNNING"
    assert second == ["[10/26] zone1: Stop zone1 SUCCEED 1.0s | Stop zone1 ok",
                      "[11/26] zone1: Reinstall and restart observer RUNNING"]
