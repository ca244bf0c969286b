"""Node durations: the engine's node observer feeds the histogram as each node ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyobshell.engine import FinishedNode, State, TemplateBuilder
from pyobshell.engine.schema import StoreKind
from pyobshell.metrics import AgentMetrics, node_observer
from tests.engine.engine_helpers import Script, Step, running_engine, wait_dag
from tests.metrics.scrape import scraped, value

pytestmark = pytest.mark.anyio
HISTOGRAM = "pyobshell_dag_node_duration_seconds"


async def test_every_finished_node_is_observed_once_by_name_and_state(tmp_path: Path, script: Script) -> None:
    metrics = AgentMetrics()
    script.fail.add("b")
    async with running_engine(f"sqlite:///{tmp_path / 'local.db'}", StoreKind.LOCAL) as engine:
        engine.node_observers.add(node_observer(metrics))
        template = TemplateBuilder("three").add_task(Step(name="a")).add_task(Step(name="b")) \
            .add_task(Step(name="c")).build()
        dag = await wait_dag(engine, engine.create_dag(template).id)
    assert dag.state == "FAILED"
    found = scraped(metrics)
    assert value(found, HISTOGRAM + "_count", node="a", state="SUCCEED") == 1
    assert value(found, HISTOGRAM + "_count", node="b", state="FAILED") == 1
    assert value(found, HISTOGRAM + "_count", node="c", state="PENDING") is None  # never ran
    assert sum(v for (name, _), v in found.items() if name == HISTOGRAM + "_count") == 2
    node_a = next(n for n in dag.nodes or [] if n.name == "a")
    assert node_a.state == "SUCCEED"
    assert 0 <= (value(found, HISTOGRAM + "_sum", node="a", state="SUCCEED") or 0) < 10


async def test_a_failing_observer_never_stops_the_dag(tmp_path: Path, script: Script) -> None:
    seen: list[FinishedNode] = []

    def broken(_node: FinishedNode) -> None:
        raise RuntimeError("a broken figure")

    async with running_engine(f"sqlite:///{tmp_path / 'local.db'}", StoreKind.LOCAL) as engine:
        engine.node_observers.add(broken)
        engine.node_observers.add(seen.append)
        template = TemplateBuilder("two").add_task(Step(name="a")).add_task(Step(name="b")).build()
        dag = await wait_dag(engine, engine.create_dag(template).id)
    assert dag.state == "SUCCEED"
    assert [(n.name, n.state) for n in seen] == [("a", State.SUCCEED), ("b", State.SUCCEED)]
    assert all(n.dag_id == dag.dag_id and n.seconds >= 0 for n in seen)
