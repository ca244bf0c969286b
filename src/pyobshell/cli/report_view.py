"""The post-upgrade report as the CLI prints it (``pyobshell cluster verify``, ``pyobshell task
show``): the checks as a table, then what the SQL probe saw and each zone's time out of service."""

from __future__ import annotations

from pyobshell.cli.dag_view import format_elapsed
from pyobshell.cli.output import Output
from pyobshell.cli.probe_view import figures_text
from pyobshell.wire.report import UpgradeReport

CHECK_COLUMNS = ("check", "result", "expected", "found", "detail")


def check_rows(report: UpgradeReport) -> list[tuple[str, str, str, str, str]]:
    return [(c.name, "ok" if c.ok else "FAILED", c.expected, c.found, c.detail) for c in report.checks]


def headline(report: UpgradeReport) -> str:
    failed = report.failed
    against = f"target {report.target_version}" if report.target_version else "the cluster's own build"
    of = f"upgrade task {report.id}" if report.id else "the cluster"
    verdict = (f"all {len(report.checks)} checks passed" if not failed else
               f"{len(failed)} of {len(report.checks)} checks FAILED: {', '.join(c.name for c in failed)}")
    return f"Checks of {of} against {against} at {report.created_at}: {verdict}"


def print_report(out: Output, report: UpgradeReport, title: str = "post-upgrade checks") -> None:
    out.say(headline(report), style="bold green" if report.ok else "bold red")
    out.table(title, CHECK_COLUMNS, check_rows(report))
    if report.probe is not None and report.probe.total.samples:
        out.say(f"What clients saw (SQL probe, {report.probe.total.samples} statements, "
                f"{report.probe.total.errors} failed): {figures_text(report.probe.total)}")
    if report.zone_durations:
        out.table("time out of service", ("zone", "duration", "from", "to"),
                  [(z.zone, format_elapsed(z.seconds), z.start_time, z.end_time) for z in report.zone_durations])
