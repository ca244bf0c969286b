"""The live SQL probe's report (``GET /api/v1/ob/upgrade/probe``, ``additional_data.sqlProbe``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ProbeFigures(BaseModel):
    samples: int = 0
    errors: int = 0
    success_pct: float = 100.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    longest_write_gap_ms: float = Field(0.0, description="Longest time without a successful write")


class ProbeSecond(ProbeFigures):
    at: int = Field(description="Epoch second")


class ProbeStage(ProbeFigures):
    stage: int
    name: str


class ProbeZone(ProbeFigures):
    zone: str


class ProbeError(BaseModel):
    at: float
    zone: str
    server: str
    kind: str
    error: str


class SqlProbeReport(BaseModel):
    """What the database's clients saw during an upgrade, as the maintainer's probe measured it:
    a read and a write through an observer of every ACTIVE zone, four times a second."""

    dag_id: int
    running: bool
    started_at: float
    updated_at: float
    total: ProbeFigures
    last_second: ProbeFigures
    per_second: list[ProbeSecond] = []
    stages: list[ProbeStage] = []
    zones: list[ProbeZone] = []
    recent_errors: list[ProbeError] = []
