"""The SLO guard: pause the upgrade when the SQL probe sees clients suffer.

On the maintainer, after every second of probing, the figures of the last ``window_s`` complete
seconds are held against the DAG's bounds (``slo`` of the upgrade body). On a breach the DAG is
paused with a reason naming the breach and the figures: the node that runs goes on to its end
(a restart is never cut in half) and no next node starts until an operator, having looked,
sends RESUME. Seconds before the DAG last ran again (a RESUME) are not held against it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyobshell.upgrade.probe_stats import ProbeStats, percentile
from pyobshell.wire.upgrade import SloParam

MIN_SAMPLES = 8  # two seconds of one zone: fewer statements say nothing about a rate or a p99


@dataclass(frozen=True)
class WindowFigures:
    seconds: int
    samples: int
    errors: int
    p99_ms: float

    @property
    def error_rate(self) -> float:
        return self.errors / self.samples if self.samples else 0.0

    def describe(self) -> str:
        return (f"over the last {self.seconds} s: {self.samples} statements, {self.errors} failed "
                f"(error rate {100 * self.error_rate:.2f} %), p99 {self.p99_ms:.0f} ms")


def window_figures(stats: ProbeStats, now_s: float, window_s: float, since_s: float) -> WindowFigures:
    """The complete seconds in ``[now - window, now)`` that began at or after ``since_s``."""
    first = max(int(now_s - window_s), int(since_s) + 1 if since_s else 0)
    chosen = [tally for second, tally in stats.seconds.items() if first <= second < int(now_s)]
    latencies = sorted(latency for tally in chosen for latency in tally.latencies)
    return WindowFigures(len(chosen), sum(t.samples for t in chosen), sum(t.errors for t in chosen),
                         percentile(latencies, 0.99))


def breach(slo: SloParam, figures: WindowFigures) -> str | None:
    """The reason to pause, naming what was breached and the figures; None within the bounds."""
    if figures.samples < MIN_SAMPLES:
        return None
    broken = []
    if slo.max_error_rate is not None and figures.error_rate > slo.max_error_rate:
        broken.append(f"error rate {100 * figures.error_rate:.2f} % > {100 * slo.max_error_rate:g} %")
    if slo.max_p99_ms is not None and figures.p99_ms > slo.max_p99_ms:
        broken.append(f"p99 {figures.p99_ms:.0f} ms > {slo.max_p99_ms:g} ms")
    if not broken:
        return None
    return (f"SLO breach: {' and '.join(broken)} {figures.describe()}; look at the probe "
            "(GET /api/v1/ob/upgrade/probe), then RESUME")
