"""/api/v1/ob/upgrade…: the OB upgrade body, and the plan of an upgrade (pyobshell's own).

``POST /api/v1/ob/upgrade/plan`` takes the body of ``POST /api/v1/ob/upgrade`` and answers
what that upgrade would do, without running anything: the route hop by hop with the
packages each hop needs (present or missing, per architecture), and every stage of the DAG
(the same layout the DAG is built from). The cluster's version and zones are read from the
observer; the packages from the cluster's package store.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, Request

from pyobshell.api.auth import PASSWORD, accepts
from pyobshell.api.routes.package import StoreDep
from pyobshell.api.routing import obshell_router
from pyobshell.api.state import AgentState
from pyobshell.engine import TaskService
from pyobshell.wire.task import DagDetailDTO
from pyobshell.ob.connection import ObConnectionPool
from pyobshell.upgrade.package_schema import StoredPackage
from pyobshell.upgrade.package_store import PackageStore
from pyobshell.engine.codes import TASK_ENGINE_UNAVAILABLE
from pyobshell.ob.errors import OB_NOT_CONNECTED
from pyobshell.wire.upgrade import ObUpgradeParam, UpgradeCheckParam, UpgradePlan
from pyobshell.upgrade.upgrade_plan import (
    ClusterFacts,
    UpgradeRequest,
    find_route_package,
    plan_upgrade,
    read_cluster_facts,
)
from pyobshell.upgrade.prechecks import AgentFacts
from pyobshell.upgrade.task_environment import upgrade_python
from pyobshell.upgrade.upgrade_start import UpgradeInputs, check_dag, precheck, upgrade_dag

router = obshell_router(prefix="/api/v1/ob", tags=["upgrade"], dependencies=[accepts(PASSWORD)])

ClusterFactsSource = Callable[[], ClusterFacts]
"""Blocking: read the cluster facts (runs in a worker thread)."""


def cluster_facts_source(request: Request) -> ClusterFactsSource:
    """Facts through the agent's root@sys pool (tests override this dependency)."""
    state = request.app.state.agent
    pool, target = state.ob_pool, state.observer
    if pool is None or target is None:
        raise OB_NOT_CONNECTED("this agent manages no observer")
    return lambda: read_cluster_facts(pool, sql_host=target.host, sql_port=target.sql_port,
                                      agent_port=state.port, arch=platform.machine())


@router.post("/upgrade/plan", response_model=UpgradePlan, summary="What an upgrade would do (nothing runs)")
async def plan_ob_upgrade(body: ObUpgradeParam, store: StoreDep,
                          read_facts: Annotated[ClusterFactsSource, Depends(cluster_facts_source)]) -> UpgradePlan:
    upgrade = UpgradeRequest.of(body)
    facts, packages, route_text = await _read_facts(upgrade, store, read_facts)
    return plan_upgrade(upgrade, facts, packages, route_text)


async def _read_facts(upgrade: UpgradeRequest, store: PackageStore, read_facts: ClusterFactsSource,
                      ) -> tuple[ClusterFacts, list[StoredPackage], str | None]:
    """The cluster's version and zones, the stored packages, and the target's route file."""
    facts = await anyio.to_thread.run_sync(read_facts)
    packages = await anyio.to_thread.run_sync(store.list)
    route_package = find_route_package(upgrade, facts, packages)
    route_text = None
    if route_package is not None:
        route_text = await anyio.to_thread.run_sync(store.route_file_text, route_package.pkg_id)
    return facts, packages, route_text


async def _agent_facts(state: AgentState, facts: ClusterFacts) -> tuple[list[AgentFacts], list[str]]:
    """Every agent that answers (this one included), and the cluster's agents that do not."""
    statuses = {state.agent.key(): await state.status(5.0)}
    try:
        statuses.update(await state.peer_statuses())
    except Exception:  # an unreachable peer is reported by the check, not by a failure here
        pass
    answering = [AgentFacts(key, int(status.state) == 2, int(status.obState),
                            f"{key.rsplit(':', 1)[0]}:{status.sqlPort}") for key, status in statuses.items()]
    expected = {f"{agent.ip}:{agent.port}" for zone in facts.zones for agent in zone.agents}
    return answering, sorted(expected - set(statuses))


async def _gather(body: UpgradeCheckParam, store: PackageStore, request: Request,
                  read_facts: ClusterFactsSource) -> tuple[TaskService, ObConnectionPool, UpgradeInputs]:
    """The cluster's task service, the observer pool and every fact an upgrade decision needs."""
    state = request.app.state.agent
    cluster = state.tasks.services.cluster if state.tasks is not None else None
    if cluster is None or state.ob_pool is None:
        raise TASK_ENGINE_UNAVAILABLE("the cluster task store is not open yet (is the observer available?)")
    upgrade = UpgradeRequest.of(body)
    facts, packages, route_text = await _read_facts(upgrade, store, read_facts)
    agents, missing = await _agent_facts(state, facts)
    return cluster, state.ob_pool, UpgradeInputs(upgrade, facts, packages, route_text, agents, missing)


@router.post("/upgrade", response_model=DagDetailDTO, summary="Upgrade the cluster, rolling or stop-service")
async def upgrade_ob(body: ObUpgradeParam, store: StoreDep, request: Request,
                     read_facts: Annotated[ClusterFactsSource, Depends(cluster_facts_source)]) -> DagDetailDTO:
    """Runs every pre-check (all failures at once, 400), then creates the upgrade DAG under the
    cluster's global maintenance lock and answers it (state READY, operator RUN)."""
    cluster, pool, inputs = await _gather(body, store, request, read_facts)

    def query(sql: str) -> list[tuple]:
        return [tuple(row.values()) if isinstance(row, dict) else tuple(row) for row in pool.query(sql)]

    plan = await anyio.to_thread.run_sync(precheck, query, inputs, upgrade_python())
    template, context = upgrade_dag(plan, inputs)
    return await anyio.to_thread.run_sync(cluster.create_dag, template, context)


@router.post("/upgrade/check", response_model=DagDetailDTO, summary="Download, verify and unpack the packages")
async def check_ob_upgrade(body: UpgradeCheckParam, store: StoreDep, request: Request,
                           read_facts: Annotated[ClusterFactsSource, Depends(cluster_facts_source)]) -> DagDetailDTO:
    """The upgrade-check DAG (obshell's): every host downloads, verifies and unpacks the packages
    of every hop, then removes them. Nothing in the cluster changes; no maintenance lock."""
    cluster, _pool, inputs = await _gather(body, store, request, read_facts)
    plan = plan_upgrade(inputs.upgrade, inputs.facts, inputs.packages, inputs.route_file_text)
    template, context = check_dag(plan, inputs)
    return await anyio.to_thread.run_sync(cluster.create_dag, template, context)
