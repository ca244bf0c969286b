"""Figures read from the task stores when Prometheus scrapes: DAGs by state, the latest upgrade's
stage, state and zones, and whether this agent is the maintainer.

A collector rather than gauges kept up to date: the stores are the truth (another agent may
have moved a cluster DAG on), and a few cheap queries per scrape cost less than watching every
change. :meth:`TaskFigures.collect` blocks on SQL: the scrape runs it in a worker thread, never
on the event loop (:mod:`.exposition`). A store that cannot be read now (the cluster store while
its observer restarts) is ``pyobshell_task_store_up 0`` and leaves its figures out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection

from pyobshell.engine import State, TaskStore
from pyobshell.engine.dto import pause_data
from pyobshell.engine.model import PAUSED_STATE
from pyobshell.engine.rows import DagRow, NodeRow
from pyobshell.engine.schema import StoreKind
from pyobshell.upgrade.stages import DAG_ROLLING_UPGRADE, DAG_STOP_SERVICE_UPGRADE
from pyobshell.upgrade.tasks.context import ZONE

log = logging.getLogger(__name__)
DAG_STATES = [state.name for state in State]
UPGRADE_STATES = [*DAG_STATES, PAUSED_STATE]  # as the task API shows a DAG
ZONE_STATES = [State.PENDING.name, State.RUNNING.name, State.FAILED.name, State.SUCCEED.name]

Stores = Callable[[], Mapping[str, TaskStore]]
"""The stores open now, by label ("local", "cluster")."""


@dataclass(frozen=True)
class UpgradeFigures:
    dag: DagRow
    state: str  # the task API's state (PAUSED when a pause is in effect)
    zones: dict[str, str]  # zone -> state of its nodes, in DAG order


def zone_state(states: list[State]) -> str:
    """One zone's state from its nodes' states."""
    if any(s == State.FAILED for s in states):
        return State.FAILED.name
    if all(s == State.SUCCEED for s in states):
        return State.SUCCEED.name
    if all(s == State.PENDING for s in states):
        return State.PENDING.name
    return State.RUNNING.name  # a node runs, or some are done and the rest wait


def is_upgrade(dag: DagRow) -> bool:
    return dag.name.startswith((DAG_ROLLING_UPGRADE, DAG_STOP_SERVICE_UPGRADE))


def read_upgrade(store: TaskStore, conn: Connection) -> UpgradeFigures | None:
    """The latest maintenance DAG, when it is an upgrade, with its zones' states."""
    dag = store.latest_maintenance_dag(conn)
    if dag is None or not is_upgrade(dag):
        return None
    nodes = store.nodes_of_dag(conn, dag.id)
    by_zone: dict[str, list[State]] = {}
    for node in nodes:
        zone = node.context.get_param(ZONE)
        if isinstance(zone, str) and zone:
            by_zone.setdefault(zone, []).append(node.state)
    current: NodeRow | None = next((n for n in nodes if n.dag_stage == dag.current_stage), None)
    pause = pause_data(dag, current)
    state = PAUSED_STATE if pause is not None and pause["in_effect"] else dag.state.name
    return UpgradeFigures(dag, state, {zone: zone_state(states) for zone, states in by_zone.items()})


class TaskFigures(Collector):
    def __init__(self, stores: Stores, is_maintainer: Callable[[], bool]) -> None:
        self.stores = stores
        self.is_maintainer = is_maintainer

    def describe(self) -> Iterator[Metric]:
        return iter(())  # the figures depend on the stores: nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("pyobshell_task_store_up", "Whether the task store could be read for this scrape",
                               labels=["store"])
        dags = GaugeMetricFamily("pyobshell_dags", "DAGs in the task store, by stored state", labels=["store", "state"])
        upgrade: UpgradeFigures | None = None
        for name, store in self.stores().items():
            try:
                counts, found = store.reading(lambda conn, s=store: self._read(s, conn))
            except Exception as exc:  # noqa: BLE001 - a scrape answers with what it could read
                log.info("metrics: the %s task store cannot be read now: %s", name, exc)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            for state in DAG_STATES:
                dags.add_metric([name, state], counts.get(State[state], 0))
            upgrade = upgrade or found
        yield up
        yield dags
        yield from upgrade_metrics(upgrade)
        yield GaugeMetricFamily("pyobshell_maintainer", "1 when this agent is the cluster's maintainer, else 0",
                                value=1 if self.is_maintainer() else 0)

    @staticmethod
    def _read(store: TaskStore, conn: Connection) -> tuple[dict[State, int], UpgradeFigures | None]:
        upgrade = read_upgrade(store, conn) if store.kind is StoreKind.CLUSTER else None
        return store.dag_state_counts(conn), upgrade


def upgrade_metrics(upgrade: UpgradeFigures | None) -> Iterator[Metric]:
    """The latest upgrade DAG's figures (families without samples when there is none)."""
    running = GaugeMetricFamily("pyobshell_upgrade_running", "1 while the latest upgrade DAG is unfinished, else 0",
                                value=1 if upgrade is not None and not upgrade.dag.is_finished else 0)
    stage = GaugeMetricFamily("pyobshell_upgrade_stage", "The latest upgrade DAG's current stage", labels=["dag_id"])
    max_stage = GaugeMetricFamily("pyobshell_upgrade_max_stage", "The latest upgrade DAG's number of stages",
                                  labels=["dag_id"])
    state = GaugeMetricFamily("pyobshell_upgrade_state", "1 for the latest upgrade DAG's state (as the task API "
                              "shows it), 0 for the others", labels=["dag_id", "state"])
    zones = GaugeMetricFamily("pyobshell_upgrade_zone_state", "1 for each zone's state in the latest upgrade DAG "
                              "(from its nodes), 0 for the others", labels=["dag_id", "zone", "state"])
    if upgrade is not None:
        dag_id = str(upgrade.dag.id)
        stage.add_metric([dag_id], upgrade.dag.stage)
        max_stage.add_metric([dag_id], upgrade.dag.max_stage)
        for name in UPGRADE_STATES:
            state.add_metric([dag_id, name], 1 if name == upgrade.state else 0)
        for zone, current in upgrade.zones.items():
            for name in ZONE_STATES:
                zones.add_metric([dag_id, zone, name], 1 if name == current else 0)
    yield from (running, stage, max_stage, state, zones)
