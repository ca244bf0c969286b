"""The post-upgrade report (``GET /api/v1/ob/upgrade/report/{id}``) and a verification run now
(``GET /api/v1/ob/upgrade/verify``, ``pyobshell cluster verify``): the same checks, each with
what was expected and what the cluster answered."""

from __future__ import annotations

from pydantic import BaseModel, Field

from pyobshell.wire.probe import ProbeFigures, ProbeZone

# Names of the checks, in the order they are run and shown.
ONE_BUILD = "one_build"
SERVERS_IN_SERVICE = "servers_in_service"
ZONES_ACTIVE = "zones_active"
MIN_OBSERVER_VERSION = "min_observer_version"
TENANT_COMPATIBLE = "tenant_compatible"
TENANT_DATA_VERSION = "tenant_data_version"
UPGRADE_MODE_OFF = "upgrade_mode_off"
PARAMETERS_RESTORED = "parameters_restored"
CHECK_NAMES = (ONE_BUILD, SERVERS_IN_SERVICE, ZONES_ACTIVE, MIN_OBSERVER_VERSION, TENANT_COMPATIBLE,
               TENANT_DATA_VERSION, UPGRADE_MODE_OFF, PARAMETERS_RESTORED)


class ReportCheck(BaseModel):
    """One check: ``ok`` with what it expected and what the cluster answered; ``detail`` says
    what is wrong (or why there was nothing to compare)."""

    name: str
    ok: bool
    expected: str = ""
    found: str = ""
    detail: str = ""


class ZoneDuration(BaseModel):
    """How long a zone was out of service: from its stop to its start again (every hop summed);
    in a stop-service upgrade, the reinstall of every observer at once."""

    zone: str
    seconds: float
    start_time: str = Field(description="when the zone's first stop began (RFC 3339)")
    end_time: str = Field(description="when its last start ended (RFC 3339)")


class ProbeSummary(BaseModel):
    """What the SQL probe saw during the upgrade: the whole run and each zone."""

    total: ProbeFigures
    zones: list[ProbeZone] = []


class UpgradeReport(BaseModel):
    """The checks of a finished upgrade DAG (kept with it in the cluster store), or of a
    verification run now (then ``dag_id`` names the latest upgrade DAG, if any)."""

    dag_id: int | None = Field(default=None, description="the upgrade DAG's row id")
    id: str = Field(default="", description="the upgrade DAG's generic id (\"1\" + dag_id), as task show takes it")
    target_version: str = Field(default="", description="the upgrade's target, VERSION-RELEASE; empty when "
                                                        "checked against the cluster's own build")
    ok: bool = Field(description="every check passed")
    checks: list[ReportCheck]
    probe: ProbeSummary | None = None
    zone_durations: list[ZoneDuration] = []
    created_at: str = Field(description="when the checks ran (RFC 3339 UTC)")

    @property
    def failed(self) -> list[ReportCheck]:
        return [check for check in self.checks if not check.ok]
