"""User operators: RETRY, ROLLBACK, CANCEL, PASS (DAG and node), and the refusals."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.engine.engine_helpers import StoreTarget
from tests.engine.engine_helpers import AGENTS, SCRIPT, Blocking, Rigid, Step, Uncancellable, running_engine, wait_dag, wait_for

from pyobshell.engine import TaskContext, TaskOwnedByOtherAgent, TemplateBuilder
from pyobshell.engine.generic_id import encode_local_id
from pyobshell.engine.model import AgentInfo
from pyobshell.errors import ObshellError

pytestmark = pytest.mark.anyio


def _refused(call: Callable[[], object], code: str, status: int = 400) -> ObshellError:
    with pytest.raises(ObshellError) as caught:
        call()
    assert (caught.value.code, caught.value.status) == (code, status)
    return caught.value


def _chain(*names: str, task: type = Step) -> TemplateBuilder:
    builder = TemplateBuilder("chain")
    for name in names:
        builder.add_task(task(name=name))
    return builder


async def test_retry_reruns_only_the_failed_sub_tasks(store_target: StoreTarget) -> None:
    SCRIPT.fail.add("fan@127.0.0.2")
    async with running_engine(store_target.url, store_target.kind) as engine:
        template = (TemplateBuilder("retry").add_task(Step(name="fan"), parallel=True)
                    .add_task(Step(name="z")).build())
        ctx = TaskContext(params={"execute_agents": [a.to_dict() for a in AGENTS]})
        dag = await wait_dag(engine, engine.create_dag(template, ctx).id)
        assert (dag.state, dag.operator, dag.stage) == ("FAILED", "RUN", 1)
        assert (dag.nodes or [])[1].state == "PENDING"
        failed = [t for t in (dag.nodes or [])[0].sub_tasks or [] if t.state == "FAILED"]
        assert [t.execute_agent.ip for t in failed] == ["127.0.0.2"]
        assert any("scripted failure of fan" in line for line in failed[0].task_logs or [])

        SCRIPT.fail.clear()
        engine.service.operate_dag(dag.id, "retry")
        dag = await wait_dag(engine, dag.id, ("SUCCEED",))
        assert (dag.operator, dag.stage) == ("RUN", 2)
        runs = SCRIPT.entries("execute:fan")
        assert sorted(runs) == sorted(["execute:fan@127.0.0.1", "execute:fan@127.0.0.2", "execute:fan@127.0.0.2",
                                       "execute:fan@127.0.0.3"])
        assert SCRIPT.entries("rollback") == ["rollback:fan@127.0.0.2"]  # undone before running again
        retried = next(t for t in (dag.nodes or [])[0].sub_tasks or [] if t.execute_agent.ip == "127.0.0.2")
        assert retried.execute_times == 3  # run, rollback, run


async def test_rollback_undoes_finished_nodes_in_reverse_order(store_target: StoreTarget) -> None:
    SCRIPT.fail.add("c")
    async with running_engine(store_target.url, store_target.kind) as engine:
        dag = await wait_dag(engine, engine.create_dag(_chain("a", "b", "c", "d").build()).id)
        assert (dag.state, dag.stage) == ("FAILED", 3)
        engine.service.operate_dag(dag.id, "ROLLBACK")
        dag = await wait_dag(engine, dag.id, ("SUCCEED",))
        assert (dag.state, dag.operator, dag.stage) == ("SUCCEED", "ROLLBACK", 1)
        assert SCRIPT.entries("rollback") == [f"rollback:{n}@127.0.0.1" for n in "cba"]
        nodes = [(n.state, n.operator) for n in dag.nodes or []]
        assert nodes == [("SUCCEED", "ROLLBACK")] * 3 + [("PENDING", "RUN")]


async def test_cancel_of_a_running_dag_ends_failed_cancel(store_target: StoreTarget) -> None:
    async with running_engine(store_target.url, store_target.kind) as engine:
        template = TemplateBuilder("cancel").add_task(Step(name="a")).add_task(Blocking(name="wait")) \
            .add_task(Step(name="never")).build()
        created = engine.create_dag(template)
        await wait_for(SCRIPT.started)
        engine.service.operate_dag(created.id, "cancel")
        dag = await wait_dag(engine, created.id, ("FAILED",))
        assert (dag.state, dag.operator, dag.stage) == ("FAILED", "CANCEL", 2)
        blocked = ((dag.nodes or [])[1].sub_tasks or [])[0]
        assert blocked.state == "FAILED" and "sub task cancelled" in (blocked.task_logs or [])
        await wait_for(lambda: SCRIPT.cancel_hooks == ["wait"])  # the hook runs in its own thread
        assert SCRIPT.entries("execute:never") == []
        _refused(lambda: engine.service.operate_dag(created.id, "cancel"), "Task.Dag.Operator.CancelFinishedDag")


async def test_dag_pass_finishes_without_running_the_rest(store_target: StoreTarget) -> None:
    SCRIPT.fail.add("b")
    async with running_engine(store_target.url, store_target.kind) as engine:
        dag = await wait_dag(engine, engine.create_dag(_chain("a", "b", "c").build()).id)
        engine.service.operate_dag(dag.id, "Pass")
        dag = engine.service.get_dag(dag.id)
        assert (dag.state, dag.operator) == ("SUCCEED", "PASS")
        assert [(n.state, n.operator) for n in dag.nodes or []] == [("SUCCEED", "RUN"), ("SUCCEED", "PASS"),
                                                                    ("SUCCEED", "PASS")]
        assert ((dag.nodes or [])[2].sub_tasks or [])[0].state == "SUCCEED"
        assert SCRIPT.entries("execute:c") == []
        assert engine.service.list_unfinished_dags() == []


async def test_node_pass_lets_the_dag_continue(store_target: StoreTarget) -> None:
    SCRIPT.fail.add("b")
    async with running_engine(store_target.url, store_target.kind) as engine:
        dag = await wait_dag(engine, engine.create_dag(_chain("a", "b", "c").build()).id)
        failed_node = (dag.nodes or [])[1]
        _refused(lambda: engine.service.operate_node((dag.nodes or [])[0].id, "pass"),
                 "Task.Node.Operator.PassNotFailedNode")
        engine.service.operate_node(failed_node.id, "PASS")
        dag = await wait_dag(engine, dag.id, ("SUCCEED",))
        assert (dag.operator, dag.stage) == ("RUN", 3)
        assert (dag.nodes or [])[1].operator == "PASS"
        assert SCRIPT.entries("execute:c") == ["execute:c@127.0.0.1"]
        _refused(lambda: engine.service.operate_node(failed_node.id, "pass"),
                 "Task.Node.Operator.PassNotFailedDag")


async def test_operators_on_a_dag_that_is_not_failed_are_refused(store_target: StoreTarget) -> None:
    async with running_engine(store_target.url, store_target.kind) as engine:
        dag = await wait_dag(engine, engine.create_dag(_chain("a").build()).id)
        for operator, code in (("retry", "RetryNotFailedDag"), ("rollback", "RollbackNotFailedDag"),
                               ("pass", "PassNotFailedDag"), ("cancel", "CancelFinishedDag")):
            _refused(lambda: engine.service.operate_dag(dag.id, operator), f"Task.Dag.Operator.{code}")
        _refused(lambda: engine.service.operate_dag(dag.id, "jump"), "Task.Dag.Operator.NotSupport")
        _refused(lambda: engine.service.operate_node((dag.nodes or [])[0].id, "retry"),
                 "Task.Node.Operator.NotSupport")


async def test_operators_the_nodes_do_not_allow_are_refused(store_target: StoreTarget) -> None:
    SCRIPT.fail.add("r")
    async with running_engine(store_target.url, store_target.kind) as engine:
        dag = await wait_dag(engine, engine.create_dag(_chain("r", task=Rigid).build()).id)
        assert dag.state == "FAILED"
        for operator, code in (("retry", "RetryNotAllowed"), ("rollback", "RollbackNotAllowed"),
                               ("pass", "PassNotAllowed")):
            _refused(lambda: engine.service.operate_dag(dag.id, operator), f"Task.Dag.Operator.{code}")
        _refused(lambda: engine.service.operate_node((dag.nodes or [])[0].id, "pass"),
                 "Task.Node.Operator.PassNotAllowed")
        assert engine.service.get_dag(dag.id).state == "FAILED"  # nothing changed


async def test_cancel_refused_when_the_running_node_cannot_cancel(store_target: StoreTarget) -> None:
    async with running_engine(store_target.url, store_target.kind) as engine:
        created = engine.create_dag(TemplateBuilder("stuck").add_task(Uncancellable(name="u")).build())
        await wait_for(SCRIPT.started)
        _refused(lambda: engine.service.operate_dag(created.id, "cancel"), "Task.Dag.Operator.CancelNotAllowed")
        SCRIPT.release.set()
        assert (await wait_dag(engine, created.id)).state == "SUCCEED"


async def test_ids_are_validated_and_routed(store_target: StoreTarget) -> None:
    async with running_engine(store_target.url, store_target.kind) as engine:
        dag = await wait_dag(engine, engine.create_dag(_chain("a").build()).id)
        _refused(lambda: engine.service.get_dag("x12"), "Task.GenericID.Invalid")
        missing = dag.id[:-1] + "9"
        _refused(lambda: engine.service.get_dag(missing), "Task.NotFound", 404)
        _refused(lambda: engine.service.operate_dag(missing, "retry"), "Task.NotFound", 404)
        foreign = encode_local_id(dag.dag_id, AgentInfo("10.9.9.9", 2886))
        with pytest.raises(TaskOwnedByOtherAgent) as caught:
            engine.service.get_dag(foreign)
        assert caught.value.agent == AgentInfo("10.9.9.9", 2886)

