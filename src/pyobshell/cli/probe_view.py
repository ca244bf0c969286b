"""The live SQL probe as the CLI shows it: one line in the live view, a table per zone at the end.

Read from the DAG's ``additional_data.sqlProbe`` (the maintainer's probe keeps it there), so
following a DAG needs no extra request; a DAG without it (an older agent, a check DAG) shows
nothing.
"""

from __future__ import annotations

from typing import Any

from pyobshell.wire.probe import ProbeFigures, SqlProbeReport
from pyobshell.wire.task import DagDetailDTO

PROBE_DATA_KEY = "sqlProbe"


def probe_report(dag: DagDetailDTO) -> SqlProbeReport | None:
    raw: Any = (dag.additional_data or {}).get(PROBE_DATA_KEY)
    if not isinstance(raw, dict):
        return None
    try:
        return SqlProbeReport.model_validate(raw)
    except ValueError:
        return None  # a report this CLI does not understand is not shown


def figures_text(figures: ProbeFigures) -> str:
    return (f"{figures.success_pct:.1f} % ok, p99 {figures.p99_ms:.0f} ms, max {figures.max_ms:.0f} ms, "
            f"longest write gap {figures.longest_write_gap_ms / 1000:.1f} s")


def probe_line(dag: DagDetailDTO) -> str:
    """``SQL: 100.0 % ok, p99 4 ms …`` for the whole upgrade so far, '' without a report."""
    report = probe_report(dag)
    if report is None or not report.total.samples:
        return ""
    total = report.total
    last = report.last_second
    now = f"; last second {last.success_pct:.1f} % ok, p99 {last.p99_ms:.0f} ms" if report.running and last.samples else ""
    return (f"SQL: {total.success_pct:.1f} % ok, p99 {total.p99_ms:.0f} ms "
            f"({total.samples} statements, {total.errors} failed, longest write gap "
            f"{total.longest_write_gap_ms / 1000:.1f} s){now}")


def probe_summary(dag: DagDetailDTO) -> list[str]:
    """What clients saw, per zone: the final summary's lines ([] without a report)."""
    report = probe_report(dag)
    if report is None or not report.total.samples:
        return []
    lines = [f"What clients saw (SQL probe, {report.total.samples} statements): {figures_text(report.total)}"]
    for zone in report.zones:
        lines.append(f"  {zone.zone}: {zone.samples} statements, {zone.errors} errors, {figures_text(zone)}")
    for error in report.recent_errors[-3:]:
        lines.append(f"  last errors: {error.zone} {error.server} {error.kind}: {error.error}")
    return lines
