"""The SQL probe's bookkeeping, with samples at chosen times: percentiles, success rates,
write gaps (a paused DAG is no gap), per stage, zone and second."""

from __future__ import annotations

from pyobshell.upgrade.probe_stats import ProbeStats, Sample, percentile
from pyobshell.wire.probe import SqlProbeReport


def write(at: float, ok: bool = True, ms: float = 2.0, zone: str = "zone1") -> Sample:
    return Sample(at, zone, f"{zone}:2881", "write", ok, ms, "" if ok else "(4038) not master")


def test_percentiles_are_nearest_rank() -> None:
    values = sorted(float(v) for v in range(1, 101))
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile([], 0.99)) == (50.0, 99.0, 0.0)


def test_figures_per_stage_zone_and_second() -> None:
    stats = ProbeStats(1, 100.0)
    stats.add(write(100.1, ms=1), 1, "Stop zone1")
    stats.add(write(100.6, ms=3, zone="zone2"), 1, "Stop zone1")
    stats.add(write(101.2, ok=False), 2, "Reinstall")
    stats.add(write(103.2, ms=9), 2, "Reinstall")
    report = SqlProbeReport.model_validate(stats.report(104.5, running=True))
    assert report.total.samples == 4 and report.total.errors == 1 and report.total.success_pct == 75.0
    assert report.total.max_ms == 9 and report.total.longest_write_gap_ms == 2600.0  # 100.6 -> 103.2
    assert [(s.stage, s.name, s.samples) for s in report.stages] == [(1, "Stop zone1", 2), (2, "Reinstall", 2)]
    assert [(z.zone, z.errors) for z in report.zones] == [("zone1", 1), ("zone2", 0)]
    assert [s.at for s in report.per_second] == [100, 101, 103] and report.last_second.p99_ms == 9
    assert report.recent_errors[0].error == "(4038) not master"


def test_the_time_a_dag_stands_still_is_no_write_gap() -> None:
    stats = ProbeStats(1, 0.0)
    stats.add(write(1.0), 1, "a")
    stats.pause()  # the DAG failed; a RETRY resumes an hour later
    stats.add(write(3601.0), 1, "a")
    stats.add(write(3601.5), 1, "a")
    assert stats.report(3602.0, running=False)["total"]["longest_write_gap_ms"] == 500.0
