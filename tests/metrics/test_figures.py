"""The figures read from the task stores at scrape time: DAGs by state, the latest upgrade's
stage, state and zones, the maintainer gauge, and a store that cannot be read."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyobshell.engine import Node, State, TaskContext, TaskService, TaskStore, TemplateBuilder
from pyobshell.engine.model import Maintainer
from pyobshell.engine.schema import StoreKind
from pyobshell.metrics import AgentMetrics, TaskFigures
from pyobshell.upgrade.tasks.context import ZONE
from tests.engine.engine_helpers import OWNER, Step, make_registry
from tests.metrics.scrape import names, scraped, value

UPGRADE_NAME = "OB rolling upgrade 4.2.1.1-101000062023110109.el7"
LAYOUT = [("Check packages", ""), ("Stop zone1", "zone1"), ("Start zone1", "zone1"),
          ("Stop zone2", "zone2"), ("Start zone2", "zone2")]


@pytest.fixture
def store(tmp_path: Path):
    store = TaskStore(f"sqlite:///{tmp_path / 'cluster.db'}", StoreKind.CLUSTER, owner=OWNER)
    yield store
    store.close()


def create(store: TaskStore, name: str, nodes: list[tuple[str, str]], maintenance: bool = False) -> int:
    builder = TemplateBuilder(name)
    if maintenance:
        builder.set_maintenance(Maintainer.global_())
    for node_name, zone in nodes:
        builder.add_node(Node(Step(name=node_name), context=TaskContext(params={ZONE: zone} if zone else {})))
    return TaskService(store, make_registry()).create_dag(builder.build()).dag_id


def run_to(store: TaskStore, dag_id: int, stage: int, *, failed: bool = False) -> None:
    """The DAG RUNNING at ``stage``: the nodes before it SUCCEED, its node RUNNING (or FAILED)."""
    with store.transaction() as conn:
        dag = store.get_dag(conn, dag_id)
        assert store.dag_set_running(conn, dag)
        for node in store.nodes_of_dag(conn, dag_id)[:stage]:
            assert store.node_start(conn, node, node.context)
            if node.dag_stage < stage:
                assert store.node_finish(conn, node, State.SUCCEED)
            elif failed:
                assert store.node_finish(conn, node, State.FAILED)
        assert store.dag_move_stage(conn, dag, stage)


def finish(store: TaskStore, dag_id: int, state: State) -> None:
    with store.transaction() as conn:
        dag = store.get_dag(conn, dag_id)
        if dag.state == State.READY:
            assert store.dag_set_running(conn, dag)
        assert store.dag_finish(conn, dag, state, is_finished=True)


def figures_of(stores: dict, maintainer: bool = True) -> dict:
    metrics = AgentMetrics()
    metrics.add_collector(TaskFigures(lambda: stores, lambda: maintainer))
    return scraped(metrics)


def test_dags_by_state_and_the_running_upgrade_with_its_zones(store: TaskStore) -> None:
    done = create(store, "a local job", [("one", "")])
    create(store, "waiting job", [("one", "")])
    finish(store, done, State.SUCCEED)
    upgrade = create(store, UPGRADE_NAME, LAYOUT, maintenance=True)
    run_to(store, upgrade, 4)  # zone1 done, zone2 stopping

    found = figures_of({"cluster": store})
    counts = {state.name: value(found, "pyobshell_dags", store="cluster", state=state.name) for state in State}
    assert counts == {"PENDING": 0, "READY": 1, "RUNNING": 1, "FAILED": 0, "SUCCEED": 1}
    dag = str(upgrade)
    assert value(found, "pyobshell_upgrade_stage", dag_id=dag) == 4
    assert value(found, "pyobshell_upgrade_max_stage", dag_id=dag) == 5
    assert value(found, "pyobshell_upgrade_running") == 1
    assert value(found, "pyobshell_upgrade_state", dag_id=dag, state="RUNNING") == 1
    assert value(found, "pyobshell_upgrade_state", dag_id=dag, state="SUCCEED") == 0
    zones = {dict(labels)["zone"]: dict(labels)["state"] for (name, labels), v in found.items()
             if name == "pyobshell_upgrade_zone_state" and v == 1}
    assert zones == {"zone1": "SUCCEED", "zone2": "RUNNING"}
    assert value(found, "pyobshell_task_store_up", store="cluster") == 1
    assert value(found, "pyobshell_maintainer") == 1


def test_a_failed_zone_a_pause_and_a_finished_upgrade(store: TaskStore) -> None:
    upgrade = create(store, UPGRADE_NAME, LAYOUT, maintenance=True)
    run_to(store, upgrade, 2, failed=True)
    found = figures_of({"cluster": store}, maintainer=False)
    assert value(found, "pyobshell_upgrade_zone_state", dag_id=str(upgrade), zone="zone1", state="FAILED") == 1
    assert value(found, "pyobshell_upgrade_zone_state", dag_id=str(upgrade), zone="zone2", state="PENDING") == 1
    assert value(found, "pyobshell_maintainer") == 0

    with store.transaction() as conn:  # paused while no node runs: the task API says PAUSED
        dag = store.get_dag(conn, upgrade)
        assert store.dag_set_paused(conn, dag, True, "an operator")
    assert value(figures_of({"cluster": store}), "pyobshell_upgrade_state", dag_id=str(upgrade), state="PAUSED") == 1

    finish(store, upgrade, State.SUCCEED)
    found = figures_of({"cluster": store})
    assert value(found, "pyobshell_upgrade_running") == 0
    assert value(found, "pyobshell_upgrade_state", dag_id=str(upgrade), state="SUCCEED") == 1
    assert value(found, "pyobshell_dags", store="cluster", state="SUCCEED") == 1


def test_no_upgrade_figures_without_an_upgrade_dag_nor_in_the_local_store(store: TaskStore, tmp_path: Path) -> None:
    local = TaskStore(f"sqlite:///{tmp_path / 'local.db'}", StoreKind.LOCAL, owner=OWNER)
    try:
        create(local, UPGRADE_NAME, LAYOUT, maintenance=True)  # only the cluster store runs upgrades
        create(store, "Some other maintenance", [("one", "")], maintenance=True)
        found = figures_of({"local": local, "cluster": store})
    finally:
        local.close()
    assert value(found, "pyobshell_dags", store="local", state="READY") == 1
    assert value(found, "pyobshell_upgrade_running") == 0
    assert "pyobshell_upgrade_stage" not in names(found)


class Unreachable:
    kind = StoreKind.CLUSTER

    def reading(self, work):
        raise OSError("the observer behind the cluster store restarts")


def test_a_store_that_cannot_be_read_is_down_and_the_scrape_still_answers(store: TaskStore) -> None:
    create(store, "waiting job", [("one", "")])
    found = figures_of({"local": store, "cluster": Unreachable()})
    assert value(found, "pyobshell_task_store_up", store="cluster") == 0
    assert value(found, "pyobshell_task_store_up", store="local") == 1
    assert value(found, "pyobshell_dags", store="cluster", state="READY") is None
    assert value(found, "pyobshell_dags", store="local", state="READY") == 1
