"""Operator gates of an upgrade (pyobshell's own): canary zones that wait for approval, a soak
after every zone, a hold before the point of no return, and the SLO bounds of the probe guard.

The request asks for them (all optional); :func:`check_gates` says, against the cluster, whether
they make sense, and :mod:`stages` lays out their nodes. Without any, the DAG is exactly obshell's
(pyobshell's) usual one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyobshell.errors import ErrorCode, ErrorKind
from pyobshell.wire.upgrade import ObUpgradeParam, SloParam, UpgradeMode

GATE_UNKNOWN_ZONE = ErrorCode("OB.Upgrade.Gate.UnknownZone", ErrorKind.BAD_REQUEST, "pause_after_zones: {}")
GATE_NEEDS_ROLLING = ErrorCode("OB.Upgrade.Gate.NeedsRolling", ErrorKind.BAD_REQUEST, "{}")

ZONE_GATE_NAME = "Wait for approval after {zone}"
FINALIZE_GATE_NAME = "Wait for approval to finalize"
SOAK_NAME = "Soak after {zone}"


@dataclass(frozen=True)
class UpgradeGates:
    pause_after_zones: tuple[str, ...] = ()
    soak_s: float = 0.0
    hold_before_finalize: bool = False
    slo: SloParam | None = None

    @classmethod
    def of(cls, body: ObUpgradeParam) -> "UpgradeGates":
        zones = tuple(dict.fromkeys(zone.strip() for zone in body.pause_after_zones))
        return cls(zones, float(body.soak_s), body.hold_before_finalize, body.slo)


def check_gates(gates: UpgradeGates, mode: UpgradeMode, zones: Sequence[str]) -> None:
    """400 naming the field when a gate does not fit the cluster or the mode."""
    unknown = [zone for zone in gates.pause_after_zones if zone not in zones]
    if unknown:
        raise GATE_UNKNOWN_ZONE(f"{', '.join(repr(z) for z in unknown)} is not a zone of this cluster "
                                f"(its zones: {', '.join(zones)})")
    if mode is UpgradeMode.ROLLING:
        return
    if gates.pause_after_zones:
        raise GATE_NEEDS_ROLLING("pause_after_zones needs a rolling upgrade: a stop-service upgrade restarts "
                                 "every zone at once")
    if gates.soak_s > 0:
        raise GATE_NEEDS_ROLLING("soak_s needs a rolling upgrade: a stop-service upgrade has no zone to soak after")


def zone_gate_reason(zone: str) -> str:
    return (f"{ZONE_GATE_NAME.format(zone=zone)}: {zone} runs the new build and serves; "
            "RESUME lets the next zone stop")


def finalize_gate_reason() -> str:
    return (f"{FINALIZE_GATE_NAME}: every server runs the new build and nothing irreversible has happened; "
            "RESUME runs the post script (the point of no return)")
