"""PAUSE and RESUME (pyobshell's operators) and gate nodes that wait for RESUME."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from tests.engine.engine_helpers import SCRIPT, Blocking, Step, StoreTarget, running_engine, wait_dag, wait_for

from pyobshell.engine import Node, TaskContext, TemplateBuilder
from pyobshell.engine.model import APPROVAL_GATE_KEY
from pyobshell.errors import ObshellError

pytestmark = pytest.mark.anyio


def _refused(call: Callable[[], object], code: str) -> ObshellError:
    with pytest.raises(ObshellError) as caught:
        call()
    assert (caught.value.code, caught.value.status) == (code, 400)
    return caught.value


async def test_pause_lets_the_running_node_finish_and_starts_no_next_one(store_target: StoreTarget) -> None:
    async with running_engine(store_target.url, store_target.kind) as engine:
        template = (TemplateBuilder("pause").add_task(Step(name="a")).add_task(Blocking(name="wait"))
                    .add_task(Step(name="after")).build())
        created = engine.create_dag(template)
        await wait_for(SCRIPT.started)
        engine.service.operate_dag(created.id, "pause")
        dag = engine.service.get_dag(created.id)
        assert dag.state == "RUNNING"  # the running node goes on to its end
        assert (dag.additional_data or {})["pause"] == {"reason": "paused by an operator (PAUSE)",
                                                        "in_effect": False, "gate": None}
        SCRIPT.release.set()
        dag = await wait_dag(engine, created.id, ("PAUSED",), stage=3)
        assert [n.state for n in dag.nodes or []] == ["SUCCEED", "SUCCEED", "PENDING"]
        await asyncio.sleep(0.5)  # several scheduler passes: still nothing starts
        assert SCRIPT.entries("execute:after") == []
        assert engine.service.get_dag(created.id, show_details=False).state == "PAUSED"
        _refused(lambda: engine.service.operate_dag(created.id, "PAUSE"), "Task.Dag.Operator.PauseAlreadyPaused")

        engine.service.operate_dag(created.id, "resume")
        dag = await wait_dag(engine, created.id, ("SUCCEED",))
        assert SCRIPT.entries("execute:after") == ["execute:after@127.0.0.1"]
        assert "pause" not in (dag.additional_data or {})


async def test_pause_and_resume_refuse_dags_they_do_not_apply_to(store_target: StoreTarget) -> None:
    SCRIPT.fail.add("b")
    async with running_engine(store_target.url, store_target.kind) as engine:
        done = await wait_dag(engine, engine.create_dag(TemplateBuilder("done").add_task(Step(name="a")).build()).id)
        assert done.state == "SUCCEED"
        error = _refused(lambda: engine.service.operate_dag(done.id, "PAUSE"), "Task.Dag.Operator.PauseNotRunningDag")
        assert "SUCCEED" in str(error)
        _refused(lambda: engine.service.operate_dag(done.id, "RESUME"), "Task.Dag.Operator.ResumeNotPausedDag")

        failed = await wait_dag(engine, engine.create_dag(TemplateBuilder("f").add_task(Step(name="b")).build()).id)
        assert failed.state == "FAILED"
        _refused(lambda: engine.service.operate_dag(failed.id, "pause"), "Task.Dag.Operator.PauseNotRunningDag")

        running = engine.create_dag(TemplateBuilder("r").add_task(Blocking(name="w")).build())
        await wait_for(SCRIPT.started)
        _refused(lambda: engine.service.operate_dag(running.id, "resume"), "Task.Dag.Operator.ResumeNotPausedDag")
        _refused(lambda: engine.service.operate_dag(running.id, "hold"), "Task.Dag.Operator.NotSupport")
        assert engine.service.get_dag(running.id).state == "RUNNING"  # nothing changed
        assert engine.service.get_dag(done.id).state == "SUCCEED"


async def test_a_gate_node_pauses_its_dag_until_resume(store_target: StoreTarget) -> None:
    gate = Node(Step(name="gate"), context=TaskContext(params={APPROVAL_GATE_KEY: "Wait for approval after zone1"}))
    async with running_engine(store_target.url, store_target.kind) as engine:
        template = (TemplateBuilder("gated").add_task(Step(name="a")).add_node(gate)
                    .add_task(Step(name="b")).build())
        created = engine.create_dag(template)
        dag = await wait_dag(engine, created.id, ("PAUSED",), stage=2)
        assert (dag.additional_data or {})["pause"] == {"reason": "Wait for approval after zone1",
                                                        "in_effect": True, "gate": "gate"}
        await asyncio.sleep(0.3)
        assert SCRIPT.entries("execute:gate") == []
        engine.service.operate_dag(created.id, "RESUME")
        dag = await wait_dag(engine, created.id, ("SUCCEED",))
        assert SCRIPT.entries("execute:") == ["execute:a@127.0.0.1", "execute:gate@127.0.0.1",
                                              "execute:b@127.0.0.1"]


async def test_cancel_of_a_paused_dag_ends_it(store_target: StoreTarget) -> None:
    gate = Node(Step(name="gate"), context=TaskContext(params={APPROVAL_GATE_KEY: "Wait for approval to finalize"}))
    async with running_engine(store_target.url, store_target.kind) as engine:
        created = engine.create_dag(TemplateBuilder("c").add_node(gate).add_task(Step(name="b")).build())
        await wait_dag(engine, created.id, ("PAUSED",))
        engine.service.operate_dag(created.id, "CANCEL")
        dag = await wait_dag(engine, created.id, ("FAILED",))
        assert (dag.operator, SCRIPT.entries("execute:")) == ("CANCEL", [])


async def test_an_internal_pause_names_its_reason(store_target: StoreTarget) -> None:
    async with running_engine(store_target.url, store_target.kind) as engine:
        template = TemplateBuilder("slo").add_task(Blocking(name="w")).add_task(Step(name="b")).build()
        created = engine.create_dag(template)
        await wait_for(SCRIPT.started)
        assert engine.service.pause_dag(created.dag_id, "SLO breach: p99 900 ms > 500 ms")
        assert not engine.service.pause_dag(created.dag_id, "again")  # already paused: nothing changes
        SCRIPT.release.set()
        dag = await wait_dag(engine, created.id, ("PAUSED",), stage=2)
        assert (dag.additional_data or {})["pause"]["reason"] == "SLO breach: p99 900 ms > 500 ms"
