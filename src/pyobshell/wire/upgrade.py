"""The OB upgrade: its request bodies (obshell's ``ObUpgradeParam`` and ``UpgradeCheckParam``)
and the plan ``POST /api/v1/ob/upgrade/plan`` answers (pyobshell's own).

A body is validated here, field by field, so a bad one is a 400 that names the field; whether the
upgrade is possible (route, packages, cluster state) is for the upgrade service to say.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import PurePosixPath
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from pyobshell.versions import Release, Version
from pyobshell.wire.agent import AgentInfo
from pyobshell.wire.package import PackageSignature

# obshell's CheckPathValid: letters (also CJK), digits and - _ : @ / .
_PATH_CHARS = re.compile(r"^[a-zA-Z0-9\u4e00-\u9fa5\-_:@/.]*$")


class UpgradeMode(str, Enum):
    ROLLING = "ROLLING"
    STOPSERVICE = "STOPSERVICE"

    @classmethod
    def parse(cls, text: str) -> "UpgradeMode":
        """Case-insensitive, as obshell upper-cases the mode; ValueError names the accepted values."""
        try:
            return cls(text.strip().upper())
        except (AttributeError, ValueError):
            raise ValueError(f"upgrade mode {text!r} is not supported; use ROLLING or STOPSERVICE") from None


def upgrade_dir_problem(upgrade_dir: str) -> str | None:
    """What is wrong with an ``upgradeDir`` as written (None: nothing). Empty means the agent's
    default; otherwise absolute, plain characters, no ``..``. Whether each host can write there
    is a pre-check, since it depends on the host."""
    path = upgrade_dir.strip()
    if not path:
        return None
    if not path.startswith("/"):
        return f"Path '{path}' is not valid: it should start with '/'"
    if not _PATH_CHARS.match(path):
        return f"Path '{path}' is not valid: only letters, digits and - _ : @ / . are allowed"
    if ".." in PurePosixPath(path).parts:
        return f"Path '{path}' is not valid: it must not contain '..'"
    return None


# -- the request bodies ------------------------------------------------------------------------


def _four_numbers(text: str) -> str:
    version = Version.parse(text)
    if version.build is not None:
        raise ValueError(f"{text!r} carries a build; give the four numbers only (the build is in 'release')")
    return version.number_string


def _release(text: str) -> str:
    return str(Release.parse(text))


def _upgrade_dir(text: str) -> str:
    problem = upgrade_dir_problem(text)
    if problem is not None:
        raise ValueError(problem)
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


MAX_SOAK_S = 7 * 24 * 3600.0
SLO_MAX_WINDOW_S = 120.0  # the probe keeps its last 120 seconds


class SloParam(BaseModel):
    """pyobshell's SLO guard: when the SQL probe's figures over the last ``window_s`` seconds
    breach a bound, the upgrade DAG pauses at its next node boundary."""

    model_config = ConfigDict(extra="forbid")
    max_error_rate: float | None = Field(default=None, ge=0, le=1,
                                         description="failed share of probe statements, 0..1 (0.01: 1 %)")
    max_p99_ms: float | None = Field(default=None, gt=0, le=600_000, description="p99 latency bound in ms")
    window_s: float = Field(default=30.0, ge=1, le=SLO_MAX_WINDOW_S, description="seconds the figures cover")

    @model_validator(mode="after")
    def _bounds_something(self) -> "SloParam":
        if self.max_error_rate is None and self.max_p99_ms is None:
            raise ValueError("give max_error_rate, max_p99_ms or both")
        return self


class ObUpgradeParam(UpgradeCheckParam):
    """The body of ``POST /api/v1/ob/upgrade`` and ``/plan`` (obshell's ``ObUpgradeParam``),
    with pyobshell's optional operator gates (obshell's clients never send them)."""

    mode: Annotated[str, NullText, AfterValidator(_mode)] = Field(description="ROLLING or STOPSERVICE (any case)")
    freeze_server: Annotated[bool, _null_is(False)] = Field(
        default=False, description="minor freeze before each observer is stopped")
    pause_after_zones: Annotated[list[str], _null_is([])] = Field(
        default_factory=list, description="zones after whose restart the DAG waits for RESUME (canary)")
    soak_s: Annotated[float, _null_is(0.0)] = Field(
        default=0.0, ge=0, le=MAX_SOAK_S, description="after every zone, wait this long with the probe watching")
    hold_before_finalize: Annotated[bool, _null_is(False)] = Field(
        default=False, description="wait for RESUME before the post script (the point of no return)")
    slo: SloParam | None = Field(default=None, description="pause when the SQL probe breaches these bounds")


# -- the plan ----------------------------------------------------------------------------------


class PlannedPackage(BaseModel):
    name: str
    architecture: str
    file_name: str = Field(description="the RPM file name; '${release}' stands for any non-deprecated build")
    present: bool
    pkg_id: int | None = Field(default=None, description="the stored package that will be used")
    sha256: str = Field(default="", description="SHA-256 of the stored RPM file")
    signer: str = Field(default="", description="'unsigned', or the signing key, its user id and 'verified' or "
                                                "'not verified' (empty: the package is missing)")
    signature: PackageSignature | None = None


class PlannedHop(BaseModel):
    index: int = Field(description="upgradeRouteIndex of the hop's stages")
    version: str
    release: str = Field(description="build number, or 'null' for any non-deprecated build")
    build_version: str
    role: str = Field(description="'barrier' (a binary that must really be installed) or 'target'")
    packages: list[PlannedPackage]


class PlannedStage(BaseModel):
    index: int = Field(description="1-based stage number (the DAG's stage)")
    name: str
    parallel: bool
    agents: list[AgentInfo] = Field(description="executing agents of a parallel stage; none: the maintainer")
    hop: int | None = None
    zone: str | None = None
    point_of_no_return: bool = Field(
        default=False, description="the first stage after which the cluster cannot go back to the old build")


class UpgradePlan(BaseModel):
    name: str = Field(description="the name the upgrade DAG will have")
    current_version: str = Field(description="version-build the cluster runs")
    target_version: str
    target_release: str
    mode: UpgradeMode
    freeze_server: bool
    upgrade_dir: str
    route: list[PlannedHop] = Field(description="hop by hop, the start left out")
    missing_packages: list[str]
    ready: bool = Field(description="every package of every hop is stored")
    max_stage: int
    stages: list[PlannedStage]
    pause_after_zones: list[str] = Field(default_factory=list)
    soak_s: float = 0.0
    hold_before_finalize: bool = False
    slo: SloParam | None = None
