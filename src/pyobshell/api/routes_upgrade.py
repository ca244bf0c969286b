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
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from pyobshell.api.auth import PASSWORD, accepts
from pyobshell.api.routes_package import StoreDep
from pyobshell.api.routing import obshell_router
from pyobshell.api.state import AgentState
from pyobshell.engine import TaskService
from pyobshell.wire.task import DagDetailDTO
from pyobshell.ob.connection import ObConnectionPool
from pyobshell.upgrade.package_schema import StoredPackage
from pyobshell.upgrade.package_store import PackageStore
from pyobshell.engine.codes import TASK_ENGINE_UNAVAILABLE
from pyobshell.ob.errors import OB_NOT_CONNECTED
from pyobshell.upgrade.dag_layout import UpgradeMode
from pyobshell.upgrade.upgrade_plan import (
    ClusterFacts,
    UpgradePlan,
    UpgradeRequest,
    find_route_package,
    plan_upgrade,
    read_cluster_facts,
)
from pyobshell.upgrade.prechecks import AgentFacts, check_upgrade_dir_syntax
from pyobshell.upgrade.task_environment import upgrade_python
from pyobshell.upgrade.upgrade_start import UpgradeInputs, check_dag, precheck, upgrade_dag
from pyobshell.versions import Release, Version

router = obshell_router(prefix="/api/v1/ob", tags=["upgrade"], dependencies=[accepts(PASSWORD)])

ClusterFactsSource = Callable[[], ClusterFacts]
"""Blocking: read the cluster facts (runs in a worker thread)."""


def _four_numbers(text: str) -> str:
    version = Version.parse(text)
    if version.build is not None:
        raise ValueError(f"{text!r} carries a build; give the four numbers only (the build is in 'release')")
    return version.number_string


def _release(text: str) -> str:
    return str(Release.parse(text))


def _upgrade_dir(text: str) -> str:
    """Empty (the agent's default) or an absolute path without traversal; writability and
    space are pre-checks, since they depend on each host."""
    failure = check_upgrade_dir_syntax(text)
    if failure is not None:
        raise ValueError(failure.message)
    return text.strip()


def _mode(text: str) -> str:
    return UpgradeMode.parse(text).value


def _null_is(zero: object) -> BeforeValidator:
    """Go's JSON binding leaves a field at its zero value for ``null``: obshell's SDK sends
    ``"upgradeDir": null`` when no directory is given."""
    return BeforeValidator(lambda value: zero if value is None else value)


NullText = _null_is("")


class UpgradeCheckParam(BaseModel):
    """The body of ``POST /api/v1/ob/upgrade/check`` (obshell's ``UpgradeCheckParam``: no mode)."""

    model_config = ConfigDict(extra="ignore")
    version: Annotated[str, NullText, AfterValidator(_four_numbers)] = Field(
        description="target version, e.g. 4.2.1.1")
    release: Annotated[str, NullText, AfterValidator(_release)] = Field(
        description="BUILD.DISTRIBUTION, e.g. 101000062023110109.el7")
    upgradeDir: Annotated[str, NullText, AfterValidator(_upgrade_dir)] = Field(
        default="", description="absolute path; empty or null: <ob home>/upgrade on every host")

    def to_request(self) -> UpgradeRequest:
        # The check downloads and unpacks every hop's packages on every host, whatever the mode
        # will be: it is planned as a stop-service upgrade, which any number of zones allows.
        return UpgradeRequest(version=Version.parse(self.version), release=Release.parse(self.release),
                              mode=UpgradeMode.STOPSERVICE, upgrade_dir=self.upgradeDir)


class ObUpgradeParam(UpgradeCheckParam):
    """The body of ``POST /api/v1/ob/upgrade`` and ``/plan`` (obshell's ``ObUpgradeParam``)."""

    mode: Annotated[str, NullText, AfterValidator(_mode)] = Field(description="ROLLING or STOPSERVICE (any case)")
    freeze_server: Annotated[bool, _null_is(False)] = Field(
        default=False, description="minor freeze before each observer is stopped")

    def to_request(self) -> UpgradeRequest:
        return UpgradeRequest(version=Version.parse(self.version), release=Release.parse(self.release),
                              mode=UpgradeMode(self.mode), upgrade_dir=self.upgradeDir,
                              freeze_server=self.freeze_server)


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
    upgrade = body.to_request()
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
    upgrade = body.to_request()
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
