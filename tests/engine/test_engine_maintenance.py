"""Maintenance locks: one global maintenance DAG at a time, held until success/pass/rollback."""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest
from tests.engine.engine_helpers import StoreTarget
from tests.engine.engine_helpers import SCRIPT, Blocking, Step, running_engine, wait_dag, wait_for

from pyobshell.engine import Maintainer, Task, TaskContext, TaskEngine, TemplateBuilder
from pyobshell.engine import creation
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


# -- reservations: the lock taken while a start still checks the cluster -------------------------
async def test_a_reservation_holds_the_lock_and_is_filled_in_by_the_dag(store_target: StoreTarget) -> None:
    async with running_engine(store_target.url, store_target.kind) as engine:
        reserved = engine.service.reserve_dag("first", Maintainer.global_())
        (listed,) = engine.service.list_dags()
        gid = listed.id
        assert engine.service.is_under_maintenance()
        pending = engine.service.get_dag(gid)
        assert (pending.name, pending.state, pending.nodes) == ("first", "PENDING", [])
        assert engine.service.get_maintenance_dag().id == gid
        _assert_busy(engine, "first (id ")
        with pytest.raises(ObshellError) as caught:  # another reservation is refused the same way
            engine.service.reserve_dag("second", Maintainer.global_())
        assert caught.value.code in ("OB.Cluster.UnderMaintenanceWithDag", "Agent.UnderMaintenance")
        with pytest.raises(ObshellError) as caught:  # no operator applies to a DAG still being created
            engine.service.operate_dag(gid, "cancel")
        assert caught.value.code == "Task.Dag.Operator.DagBeingCreated" and caught.value.status == 409
        await anyio.sleep(0.3)  # the scheduler passes over it: still PENDING, nothing ran
        assert engine.service.get_dag(gid).state == "PENDING"

        created = engine.service.create_dag(_maintenance("first", Step(name="s")).build(), reserved=reserved)
        assert created.id == gid
        assert (await wait_dag(engine, gid)).state == "SUCCEED"
        assert not engine.service.is_under_maintenance()
        assert [d.id for d in engine.service.list_dags()] == [gid]


async def test_a_dropped_reservation_leaves_nothing(store_target: StoreTarget) -> None:
    async with running_engine(store_target.url, store_target.kind) as engine:
        reserved = engine.service.reserve_dag("refused start", Maintainer.global_())
        engine.service.drop_reservation(reserved)
        assert not engine.service.is_under_maintenance()
        assert engine.service.list_dags() == []
        with pytest.raises(ObshellError) as caught:  # a start whose reservation is gone cannot create it
            engine.service.create_dag(_maintenance("late", Step(name="s")).build(), reserved=reserved)
        assert caught.value.code == "Task.Expired"
        assert engine.service.list_dags() == []
        engine.service.create_dag(_maintenance("next", Step(name="s")).build())  # the lock is free


async def test_an_expired_reservation_is_dropped_by_the_next_start(store_target: StoreTarget,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_engine(store_target.url, store_target.kind) as engine:
        engine.service.reserve_dag("starter that died", Maintainer.global_())
        _assert_busy(engine, "starter that died")  # within its lease it holds the lock
        monkeypatch.setattr(creation, "RESERVATION_LEASE", timedelta(seconds=-1))
        reserved = engine.service.reserve_dag("next start", Maintainer.global_())
        assert [d.name for d in engine.service.list_dags()] == ["next start"]
        engine.service.drop_reservation(reserved)
        assert not engine.service.is_under_maintenance()
