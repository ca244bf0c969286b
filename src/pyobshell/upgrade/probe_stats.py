"""What the live SQL probe saw, summed up: success rate, latency percentiles, write gaps.

Pure bookkeeping (no I/O, no clock of its own: every sample brings its time), so it is tested
without a cluster. Figures are kept for the whole run, per DAG stage, per zone and per second
(the last :data:`SECONDS_KEPT`), and summed up as plain dicts: the probe's report, as the API,
the DAG's ``additional_data`` and the CLI show it.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

SECONDS_KEPT = 120
ERRORS_KEPT = 10


@dataclass(frozen=True)
class Sample:
    at_s: float  # epoch seconds when the statement started
    zone: str
    server: str  # ip:sql_port the statement went to
    kind: str  # read | write
    ok: bool
    latency_ms: float
    error: str = ""


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(math.ceil(fraction * len(sorted_values)), 1)
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class WriteGap:
    """The longest time without a successful write, the gap still open included."""

    first_at: float | None = None
    last_ok_at: float | None = None
    longest_s: float = 0.0

    def add(self, sample: Sample) -> None:
        if self.first_at is None:
            self.first_at = sample.at_s
        if sample.kind == "write" and sample.ok:
            since = self.last_ok_at if self.last_ok_at is not None else self.first_at
            self.longest_s = max(self.longest_s, sample.at_s - since)
            self.last_ok_at = sample.at_s

    def pause(self) -> None:
        """The DAG stopped (failed, paused): the time until it runs again is no client's gap."""
        self.first_at = self.last_ok_at = None

    def longest_until(self, now_s: float) -> float:
        start = self.last_ok_at if self.last_ok_at is not None else self.first_at
        return max(self.longest_s, now_s - start) if start is not None else self.longest_s


@dataclass
class Tally:
    samples: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)  # of the successful statements
    gap: WriteGap = field(default_factory=WriteGap)
    last_at: float = 0.0

    def add(self, sample: Sample) -> None:
        self.samples += 1
        self.last_at = max(self.last_at, sample.at_s)
        if sample.ok:
            self.latencies.append(sample.latency_ms)
        else:
            self.errors += 1
        self.gap.add(sample)

    def summary(self, now_s: float | None = None) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        ok = self.samples - self.errors
        until = self.last_at if now_s is None else now_s
        return {
            "samples": self.samples, "errors": self.errors,
            "success_pct": round(100.0 * ok / self.samples, 2) if self.samples else 100.0,
            "p50_ms": round(percentile(ordered, 0.50), 2), "p99_ms": round(percentile(ordered, 0.99), 2),
            "max_ms": round(ordered[-1], 2) if ordered else 0.0,
            "longest_write_gap_ms": round(1000 * self.gap.longest_until(until), 1),
        }


@dataclass
class ProbeStats:
    """Every sample of one upgrade DAG, filed by stage, zone and second."""

    dag_id: int
    started_at_s: float
    total: Tally = field(default_factory=Tally)
    stages: "OrderedDict[int, tuple[str, Tally]]" = field(default_factory=OrderedDict)
    zones: "OrderedDict[str, Tally]" = field(default_factory=OrderedDict)
    seconds: "OrderedDict[int, Tally]" = field(default_factory=OrderedDict)
    recent_errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, sample: Sample, stage: int, stage_name: str) -> None:
        self.total.add(sample)
        if stage not in self.stages:
            self.stages[stage] = (stage_name, Tally())
        self.stages[stage][1].add(sample)
        self.zones.setdefault(sample.zone, Tally()).add(sample)
        second = int(sample.at_s)
        self.seconds.setdefault(second, Tally()).add(sample)
        while len(self.seconds) > SECONDS_KEPT:
            self.seconds.popitem(last=False)
        if not sample.ok:
            self.recent_errors = [*self.recent_errors[-(ERRORS_KEPT - 1):], {
                "at": round(sample.at_s, 3), "zone": sample.zone, "server": sample.server, "kind": sample.kind,
                "error": sample.error[:200]}]

    def pause(self) -> None:
        for tally in (self.total, *(t for _, t in self.stages.values()), *self.zones.values()):
            tally.gap.pause()

    def report(self, now_s: float, running: bool) -> dict[str, Any]:
        """The probe's figures as the API, the DAG and the CLI show them."""
        complete = [s for s in self.seconds if s < int(now_s)] if running else list(self.seconds)
        last = self.seconds[complete[-1]].summary() if complete else Tally().summary()
        return {
            "dag_id": self.dag_id, "running": running, "started_at": round(self.started_at_s, 3),
            "updated_at": round(now_s, 3),
            "total": self.total.summary(now_s if running else None),
            "last_second": last,
            "per_second": [{"at": second, **self.seconds[second].summary()} for second in complete[-60:]],
            "stages": [{"stage": stage, "name": name, **tally.summary()} for stage, (name, tally) in self.stages.items()],
            "zones": [{"zone": zone, **tally.summary()} for zone, tally in self.zones.items()],
            "recent_errors": list(self.recent_errors),
        }
