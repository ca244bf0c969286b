"""DAGs running forward: serial and parallel nodes, context flow, DTOs, logs."""

from __future__ import annotations

import pytest
from tests.engine.engine_helpers import StoreTarget
from tests.engine.engine_helpers import AGENTS, OWNER, SCRIPT, Step, Waiter, running_engine, wait_dag

from pyobshell.engine import Node, TaskContext, TaskOwnedByOtherAgent, TaskServices, TemplateBuilder
from pyobshell.engine.generic_id import encode_cluster_id, encode_local_id
from pyobshell.engine.model import AgentInfo
from pyobshell.errors import ObshellError
from pyobshell.wire.task import ZERO_TIME
from pyobshell.engine.schema import StoreKind

pytestmark = pytest.mark.anyio


def _agents_param() -> list[dict[str, object]]:
    return [a.to_dict() for a in AGENTS]


async def test_serial_nodes_run_in_order_and_pass_data_downstream(store_target: StoreTarget) -> None:
    async with running_engine(store_target.url, store_target.kind) as engine:
        template = TemplateBuilder("serial").add_task(Step(name="a")).add_task(Step(name="b")) \
            .add_task(Step(name="c")).build()
        created = engine.create_dag(template, TaskContext(params={"who": "test"}))
        assert (created.state, created.operator, created.stage, created.max_stage) == ("READY", "RUN", 1, 3)
        assert created.start_time == ZERO_TIME and created.nodes is None

        dag = await wait_dag(engine, created.id)
        assert (dag.state, dag.operator, dag.stage) == ("SUCCEED", "RUN", 3)
        assert SCRIPT.entries("execute") == [f"execute:{n}@{OWNER.ip}" for n in "abc"]
        assert [n.state for n in dag.nodes or []] == ["SUCCEED"] * 3
        last = (dag.nodes or [])[-1].sub_tasks or []
        assert last[0].task_logs == ["step c runs"] and last[0].execute_times == 1
        # each node saw its upstream's outputs: the counter grew along the chain
        detail = engine.service.get_sub_task(last[0].id)
        assert detail.additional_data == {"ran": ["c"]}
        assert dag.additional_data == {"ran": ["a", "b", "c"]}
        assert dag.start_time != ZERO_TIME and dag.end_time >= dag.start_time


async def test_context_flows_from_upstream_sub_tasks(store_target: StoreTarget) -> None:
    async with running_engine(store_target.url, store_target.kind) as engine:
        template = TemplateBuilder("flow").add_task(Step(name="a")).add_task(Step(name="b")).build()
        dag = await wait_dag(engine, engine.create_dag(template).id)
        second = (dag.nodes or [])[1].sub_tasks or []
        with engine.store.transaction() as conn:
            row = engine.store.get_subtask(conn, second[0].task_id)
        assert row.context.get_data("steps") == ["a", "b"]


async def test_parallel_node_runs_one_sub_task_per_agent(store_target: StoreTarget) -> None:
    async with running_engine(store_target.url, store_target.kind) as engine:
        template = (TemplateBuilder("parallel").add_task(Step(name="fan"), parallel=True)
                    .add_task(Step(name="after")).build())
        ctx = TaskContext(params={"execute_agents": _agents_param()})
        dag = await wait_dag(engine, engine.create_dag(template, ctx).id)
        assert dag.state == "SUCCEED"
        fan = (dag.nodes or [])[0].sub_tasks or []
        assert sorted(t.execute_agent.ip for t in fan) == sorted(a.ip for a in AGENTS)
        assert sorted(SCRIPT.entries("execute:fan")) == sorted(f"execute:fan@{a.ip}" for a in AGENTS)
        # the normal node after it runs on the scheduling agent, with every agent's outputs merged
        after = ((dag.nodes or [])[1].sub_tasks or [])[0]
        assert after.execute_agent.ip == OWNER.ip
        with engine.store.transaction() as conn:
            row = engine.store.get_subtask(conn, after.task_id)
        assert {key: value["ran"] for key, value in row.context.agent_data.items()} == {
            str(a): ("after" if a == OWNER else "fan") for a in AGENTS}


async def test_node_context_params_win_over_the_dag_context(store_target: StoreTarget) -> None:
    async with running_engine(store_target.url, store_target.kind) as engine:
        node = Node(Step(name="a"), context=TaskContext(params={"p": "node"}))
        template = TemplateBuilder("ctx").add_node(node).build()
        dag = await wait_dag(engine, engine.create_dag(template, TaskContext(params={"p": "dag", "q": 1})).id)
        task = ((dag.nodes or [])[0].sub_tasks or [])[0]
        with engine.store.transaction() as conn:
            row = engine.store.get_subtask(conn, task.task_id)
        assert row.context.params == {"p": "node", "q": 1}


async def test_read_apis_list_and_show_logs(store_target: StoreTarget) -> None:
    async with running_engine(store_target.url, store_target.kind) as engine:
        created = engine.create_dag(TemplateBuilder("reads").add_task(Step(name="a")).build())
        dag = await wait_dag(engine, created.id)
        brief = engine.service.get_dag(dag.id, show_details=False)
        assert brief.nodes is None and brief.additional_data is None
        assert [d.id for d in engine.service.list_dags()] == [dag.id]
        assert engine.service.list_unfinished_dags() == []
        node = (dag.nodes or [])[0]
        assert engine.service.get_node(node.id).sub_tasks is not None
        assert engine.service.get_node(node.id, show_details=False).sub_tasks is None
        logs = engine.service.get_sub_task_logs((node.sub_tasks or [])[0].id)
        assert [(entry.execute_times, entry.log_content) for entry in logs] == [(1, "step a runs")]
        expected_prefix = "1" if store_target.kind.value == "cluster" else "2"
        assert dag.id.startswith(expected_prefix)


async def test_wait_operator_fails_without_an_error_prefix(store_target: StoreTarget) -> None:
    async with running_engine(store_target.url, store_target.kind) as engine:
        created = engine.create_dag(TemplateBuilder("sub").add_task(Waiter(name="w")).build())
        dag = await wait_dag(engine, created.id)
        task = ((dag.nodes or [])[0].sub_tasks or [])[0]
        assert (dag.state, task.task_logs) == ("FAILED", ["waiting for the main DAG"])
        engine.service.operate_dag(dag.id, "pass")
        assert engine.service.get_dag(dag.id).state == "SUCCEED"


async def test_services_route_ids_to_the_store_that_owns_them(sqlite_url: str) -> None:
    async with running_engine(sqlite_url, StoreKind.LOCAL) as engine:
        services = TaskServices(engine.service)
        assert services.for_id(encode_local_id(1, OWNER)) is engine.service
        with pytest.raises(TaskOwnedByOtherAgent):
            services.for_id(encode_local_id(1, AgentInfo("10.0.0.2", 2886)))
        with pytest.raises(ObshellError) as caught:
            services.for_id(encode_cluster_id(1))
        assert caught.value.code == "Task.NotFound"
