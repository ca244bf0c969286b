"""The SLO guard's decision on the probe's figures (no cluster: samples bring their own time)."""

from __future__ import annotations

from pyobshell.upgrade.probe_stats import ProbeStats, Sample
from pyobshell.upgrade.slo_guard import breach, window_figures
from pyobshell.wire.upgrade import SloParam

T0 = 1_700_000_000.0


def stats_with(seconds: dict[int, list[tuple[bool, float]]]) -> ProbeStats:
    stats = ProbeStats(1, T0)
    for second, samples in seconds.items():
        for i, (ok, latency) in enumerate(samples):
            stats.add(Sample(T0 + second + i / 100, "zone1", "127.0.1.1:2881", "read", ok, latency), 3, "Stop zone1")
    return stats


def test_a_slow_window_breaches_p99_and_names_the_figures() -> None:
    stats = stats_with({s: [(True, 5.0)] * 6 + [(True, 900.0)] * 2 for s in range(5)})
    figures = window_figures(stats, T0 + 5.5, 5, 0)
    assert (figures.seconds, figures.samples, figures.errors, figures.p99_ms) == (5, 40, 0, 900.0)
    reason = breach(SloParam(max_p99_ms=500), figures)
    assert reason is not None and reason.startswith("SLO breach: p99 900 ms > 500 ms over the last 5 s: 40 statements")
    assert breach(SloParam(max_p99_ms=1000), figures) is None


def test_errors_breach_the_error_rate_and_the_open_second_does_not_count() -> None:
    stats = stats_with({0: [(True, 3.0)] * 8, 1: [(False, 3.0)] * 2 + [(True, 3.0)] * 6, 2: [(False, 1.0)] * 50})
    figures = window_figures(stats, T0 + 2.5, 30, 0)  # second 2 is still running
    assert (figures.samples, figures.errors) == (16, 2)
    assert "error rate 12.50 % > 1 %" in (breach(SloParam(max_error_rate=0.01), figures) or "")


def test_seconds_before_a_resume_and_thin_windows_are_not_held_against_the_dag() -> None:
    stats = stats_with({0: [(False, 1.0)] * 8, 1: [(False, 1.0)] * 8, 2: [(True, 2.0)] * 8})
    assert window_figures(stats, T0 + 3.5, 30, since_s=T0 + 1.2).errors == 0
    assert breach(SloParam(max_error_rate=0.0), window_figures(stats, T0 + 3.5, 30, since_s=T0 + 1.2)) is None
    thin = stats_with({0: [(False, 1.0)] * 3})
    assert breach(SloParam(max_error_rate=0.0), window_figures(thin, T0 + 1.5, 30, 0)) is None
