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
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from pyobshell.api.auth import PASSWORD, accepts
from pyobshell.api.routes_package import StoreDep
from pyobshell.api.routing import obshell_router
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
from pyobshell.upgrade.versions import Release, Version

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


def _mode(text: str) -> str:
    return UpgradeMode.parse(text).value


class ObUpgradeParam(BaseModel):
    """The body of ``POST /api/v1/ob/upgrade`` (obshell's ``ObUpgradeParam``)."""

    model_config = ConfigDict(extra="ignore")
    version: Annotated[str, AfterValidator(_four_numbers)] = Field(description="target version, e.g. 4.2.1.1")
    release: Annotated[str, AfterValidator(_release)] = Field(
        description="BUILD.DISTRIBUTION, e.g. 101000062023110109.el7")
    mode: Annotated[str, AfterValidator(_mode)] = Field(description="ROLLING or STOPSERVICE (any case)")
    upgradeDir: str = Field(default="", description="absolute path; empty: <ob home>/upgrade on every host")
    freeze_server: bool = Field(default=False, description="minor freeze before each observer is stopped")

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
    facts = await anyio.to_thread.run_sync(read_facts)
    packages = await anyio.to_thread.run_sync(store.list)
    route_package = find_route_package(upgrade, facts, packages)
    route_text = None
    if route_package is not None:
        route_text = await anyio.to_thread.run_sync(store.route_file_text, route_package.pkg_id)
    return plan_upgrade(upgrade, facts, packages, route_text)
