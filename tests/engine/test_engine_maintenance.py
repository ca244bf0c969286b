"""Maintenance locks: one global maintenance DAG at a time, held until success/pass/rollback."""

from __future__ import annotations

import pytest
from tests.engine.engine_helpers import StoreTarget
from tests.engine.engine_helpers import SCRIPT, Blocking, Step, running_engine, wait_dag, wait_for

from pyobshell.engine import Maintainer, Task, TaskContext, TaskEngine, TemplateBuilder
from pyobshell.engine.schema import StoreKind
from pyobshell.errors import ObshellError

pytestmark = pytest.mark.anyio


def _maintenance(name: str, task: Task, maintainer: Maintainer | None = None) -> TemplateBuilder:
    return TemplateBuilder(name).set_maintenance(maintainer or Maintainer.global_()).add_task(task)


def _assert_busy(engine: TaskEngine, holder: str) -> None:
    with pytest.raises(ObshellError) as caught:
        engine.create_dag(_maintenance("second", Step(name="s")).build())
    if engine.store.kind == StoreKind.CLUSTER:
        assert caught.value.code == "OB.Cluster.UnderMaintenanceWithDag"
    else:
        assert caught.value.code == "Agent.UnderMaintenance"
    assert holder in caught.value.message and "second" in caught.value.message


async def test_second_maintenance_dag_refused_while_the_first_runs(store_target: StoreTarget) -> None:
    async with running_engine(store_target.url, store_target.kind) as engine:
        first = engine.create_dag(_maintenance("first", Blocking(name="hold")).build())
        await wait_for(SCRIPT.started)
        assert engine.service.is_under_maintenance()
        _assert_busy(engine, "first")
        assert [d.name for d in engine.service.list_dags()] == ["first"]  # the refused insert left nothing
        # ordinary DAGs are never blocked
        plain_dag = engine.create_dag(TemplateBuilder("plain").add_task(Step(name="p")).build())
        plain = await wait_dag(engine, plain_dag.id)
        assert plain.state == "SUCCEED"
        SCRIPT.release.set()
        assert (await wait_dag(engine, first.id)).state == "SUCCEED"
        assert not engine.service.is_under_maintenance()
        second = engine.create_dag(_maintenance("second", Step(name="s")).build())
        assert (await wait_dag(engine, second.id)).state == "SUCCEED"
        assert engine.service.get_maintenance_dag().name == "second"


async def test_failed_maintenance_dag_keeps_the_lock_until_passed(store_target: StoreTarget) -> None:
    SCRIPT.fail.add("bad")
    async with running_engine(store_target.url, store_target.kind) as engine:
        first = await wait_dag(engine, engine.create_dag(_maintenance("first", Step(name="bad")).build()).id)
        assert first.state == "FAILED"
        assert [d.id for d in engine.service.list_unfinished_dags()] == [first.id]  # still unfinished
        _assert_busy(engine, "first")
        engine.service.operate_dag(first.id, "pass")
        assert not engine.service.is_under_maintenance()
        assert engine.service.list_unfinished_dags() == []
        engine.create_dag(_maintenance("second", Step(name="s")).build())


async def test_finished_rollback_releases_the_lock(store_target: StoreTarget) -> None:
    SCRIPT.fail.add("bad")
    async with running_engine(store_target.url, store_target.kind) as engine:
        first = await wait_dag(engine, engine.create_dag(_maintenance("first", Step(name="bad")).build()).id)
        engine.service.operate_dag(first.id, "rollback")
        assert (await wait_dag(engine, first.id, ("SUCCEED",))).operator == "ROLLBACK"
        assert not engine.service.is_under_maintenance()


async def test_failure_exit_maintenance_releases_on_failure_and_retry_retakes(store_target: StoreTarget) -> None:
    SCRIPT.fail.add("bad")
    async with running_engine(store_target.url, store_target.kind) as engine:
        ctx = TaskContext(params={"failure_exit_maintenance": True})
        first = await wait_dag(engine, engine.create_dag(_maintenance("first", Step(name="bad")).build(), ctx).id)
        assert first.state == "FAILED"
        assert not engine.service.is_under_maintenance()
        SCRIPT.fail.clear()
        engine.service.operate_dag(first.id, "retry")
        assert engine.service.is_under_maintenance()  # taken again in the operator's transaction
        assert (await wait_dag(engine, first.id, ("SUCCEED",))).state == "SUCCEED"
        assert not engine.service.is_under_maintenance()


async def test_tenant_locks_are_per_tenant_in_the_cluster_store(cluster_target: StoreTarget) -> None:
    async with running_engine(cluster_target.url, cluster_target.kind) as engine:
        t1 = engine.create_dag(_maintenance("t1 job", Blocking(name="hold"), Maintainer.tenant("t1")).build())
        await wait_for(SCRIPT.started)
        t2 = engine.create_dag(_maintenance("t2 job", Step(name="s"), Maintainer.tenant("t2")).build())
        assert (t2.maintenance_type, t2.maintenance_key) == (3, "t2")
        with pytest.raises(ObshellError) as same_tenant:
            engine.create_dag(_maintenance("t1 again", Step(name="s"), Maintainer.tenant("t1")).build())
        assert same_tenant.value.code == "OB.Tenant.UnderMaintenance"
        with pytest.raises(ObshellError) as global_job:
            engine.create_dag(_maintenance("global", Step(name="s")).build())
        assert global_job.value.code == "OB.Cluster.UnderMaintenanceWithDag"
        assert (await wait_dag(engine, t2.id)).state == "SUCCEED"
        assert engine.service.is_under_maintenance()  # t1 still holds its tenant lock
        SCRIPT.release.set()
        assert (await wait_dag(engine, t1.id)).state == "SUCCEED"
        assert not engine.service.is_under_maintenance()
        engine.create_dag(_maintenance("t1 again", Step(name="s"), Maintainer.tenant("t1")).build())


def test_maintainers_combine_like_obshell() -> None:
    none, glob = Maintainer.none(), Maintainer.global_()
    t1, t2, proxy = Maintainer.tenant("t1"), Maintainer.tenant("t2"), Maintainer.obproxy()
    assert none.combine(t1) == t1 and t1.combine(none) == t1
    assert t1.combine(t1) == t1
    assert t1.combine(t2) == glob and t1.combine(proxy) == glob and glob.combine(t1) == glob
