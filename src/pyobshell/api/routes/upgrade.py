"""/api/v1/ob/upgrade…: check, plan (pyobshell's own) and start an OB upgrade.

Each handler hands the validated body (``wire.upgrade``) to the upgrade service, which reads
the cluster, plans the route, runs the pre-checks and creates the DAG.
"""

from __future__ import annotations

from pyobshell.api.auth import PASSWORD, accepts
from pyobshell.api.dependencies import UpgradeDep
from pyobshell.api.routing import obshell_router
from pyobshell.wire.probe import SqlProbeReport
from pyobshell.wire.report import UpgradeReport
from pyobshell.wire.task import DagDetailDTO
from pyobshell.wire.upgrade import ObUpgradeParam, UpgradeCheckParam, UpgradePlan

router = obshell_router(prefix="/api/v1/ob", tags=["upgrade"], dependencies=[accepts(PASSWORD)])


@router.post("/upgrade/plan", response_model=UpgradePlan, summary="What an upgrade would do (nothing runs)")
async def plan_ob_upgrade(body: ObUpgradeParam, upgrade: UpgradeDep) -> UpgradePlan:
    return await upgrade.plan(body)


@router.post("/upgrade", response_model=DagDetailDTO, summary="Upgrade the cluster, rolling or stop-service")
async def upgrade_ob(body: ObUpgradeParam, upgrade: UpgradeDep) -> DagDetailDTO:
    """Every pre-check (all failures at once, 400), then the upgrade DAG, created under the
    cluster's global maintenance lock (state READY, operator RUN)."""
    return await upgrade.start(body)


@router.post("/upgrade/check", response_model=DagDetailDTO, summary="Download, verify and unpack the packages")
async def check_ob_upgrade(body: UpgradeCheckParam, upgrade: UpgradeDep) -> DagDetailDTO:
    """obshell's upgrade-check DAG: every host downloads, verifies and unpacks the packages of
    every hop, then removes them. Nothing in the cluster changes; no maintenance lock."""
    return await upgrade.check(body)


@router.get("/upgrade/probe", response_model=SqlProbeReport, summary="What clients saw during the latest upgrade")
async def sql_probe_report(upgrade: UpgradeDep) -> SqlProbeReport:
    """The live SQL probe's figures (success rate, latency, write gaps; per second, stage and
    zone) of the latest upgrade DAG: the same as its ``additional_data.sqlProbe``."""
    return await upgrade.probe()


@router.get("/upgrade/report/{gid}", response_model=UpgradeReport, summary="The post-upgrade report of a DAG")
async def upgrade_report(gid: str, upgrade: UpgradeDep) -> UpgradeReport:
    """The checks run when upgrade DAG ``gid`` ended SUCCEED (one build, min_observer_version,
    every tenant's compatible and data version, upgrade mode off, parameters restored, no zone
    stopped), with the SQL probe's summary and each zone's time out of service. 404
    ``OB.Upgrade.Report.NotFound`` when it has none; a malformed id is a 400."""
    return await upgrade.report(gid)


@router.get("/upgrade/verify", response_model=UpgradeReport, summary="Run the post-upgrade checks now")
async def verify_cluster(upgrade: UpgradeDep) -> UpgradeReport:
    """The same checks as the post-upgrade report, now: against the latest upgrade's target when
    it succeeded, else against the cluster's own lowest build."""
    return await upgrade.verify()
