"""The post-upgrade report: the checks of :mod:`.verify` run once an upgrade DAG has ended
SUCCEED, kept with the DAG in the cluster store (``ocs.pyobshell_upgrade_report``, one row per
DAG id), with the SQL probe's summary and how long each zone was out of service.

Who writes it: a keeper on the maintainer (:class:`ReportKeeper`), not a stage of the DAG. A
last stage would change the DAG every client knows (26 stages for three zones, one hop), would
run before the DAG has ended (its own cleanup stage, the probe's last save) and would make a
failing check fail the upgrade, which has already done everything it can; a report is a record
of the outcome, not a step of it. The keeper watches the latest maintenance DAG (the read the
SQL probe already makes, served from the store's read cache), and when an upgrade DAG has
ended SUCCEED without a report it runs the checks — again for a short while if one fails, as
a parameter set at the very end takes a moment to reach every server — and inserts the row.
The insert is keyed by DAG id, so two maintainers around a failover write it once.

``verify_now`` runs the same checks at any time (``GET /api/v1/ob/upgrade/verify``, ``pyobshell
cluster verify``), against the latest upgrade DAG's target when that DAG succeeded, else
against the cluster's own lowest build.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Boolean, Column, Engine, MetaData, Table, Text, insert, select
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import IntegrityError

from pyobshell.db import Id, Time
from pyobshell.engine import TaskService, decode_generic_id, encode_cluster_id
from pyobshell.engine.codes import TASK_ENGINE_UNAVAILABLE
from pyobshell.errors import ErrorCode, ErrorKind, ObshellError
from pyobshell.ob.sql import Sql
from pyobshell.upgrade.sql_probe import is_upgrade_dag
from pyobshell.upgrade.tasks import context as ctx
from pyobshell.upgrade.verify import Expectation, run_checks
from pyobshell.wire.probe import ProbeFigures, ProbeZone
from pyobshell.wire.report import ProbeSummary, UpgradeReport, ZoneDuration
from pyobshell.wire.task import ZERO_TIME, DagDetailDTO

log = logging.getLogger(__name__)

UPGRADE_REPORT_NOT_FOUND = ErrorCode("OB.Upgrade.Report.NotFound", ErrorKind.NOT_FOUND, "No upgrade report: {}")
SUCCEED = "SUCCEED"
ALL_ZONES = "all zones"  # stop-service: every observer reinstalled at once
STOP, START, REINSTALL = "Stop ", "Start ", "Reinstall and restart observer"

_metadata = MetaData()
REPORTS = Table(
    "pyobshell_upgrade_report", _metadata,
    Column("dag_id", Id, primary_key=True, autoincrement=False),
    Column("ok", Boolean, nullable=False),
    Column("report", Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"), nullable=False),
    Column("gmt_create", Time, nullable=False),
)


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class UpgradeReportStore:
    """Reports by DAG id, on the cluster store's engine (None while it is not open). Blocking."""

    def __init__(self, engine: Callable[[], Engine | None]):
        self._engine = engine
        self._ready_for: Engine | None = None

    def _ready(self) -> Engine | None:
        engine = self._engine()
        if engine is not None and self._ready_for is not engine:
            _metadata.create_all(engine, checkfirst=True)  # agents starting together: IF NOT EXISTS
            self._ready_for = engine
        return engine

    def save(self, report: UpgradeReport) -> bool:
        """Keep ``report``; False when its DAG has one already (that one stays)."""
        engine = self._ready()
        if engine is None or report.dag_id is None:
            return False
        try:
            with engine.begin() as conn:
                conn.execute(insert(REPORTS).values(dag_id=report.dag_id, ok=report.ok,
                                                    report=report.model_dump_json(), gmt_create=datetime.now(UTC)))
        except IntegrityError:
            return False
        return True

    def load(self, dag_id: int) -> UpgradeReport | None:
        engine = self._ready()
        if engine is None:
            return None
        with engine.connect() as conn:
            text = conn.execute(select(REPORTS.c.report).where(REPORTS.c.dag_id == dag_id)).scalar()
        return UpgradeReport.model_validate_json(text) if text else None


def parse_time(text: str) -> datetime | None:
    if not text or text == ZERO_TIME:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def zone_durations(dag: DagDetailDTO) -> list[ZoneDuration]:
    """Per zone, the time from the start of its ``Stop <zone>`` to the end of its ``Start
    <zone>``, every hop summed; a stop-service upgrade's reinstall counts for all zones."""
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    stopped: dict[str, datetime] = {}
    in_zone = False
    for node in dag.nodes or []:
        start, end = parse_time(node.start_time), parse_time(node.end_time)
        if node.name.startswith(STOP) and start is not None:
            stopped[node.name.removeprefix(STOP)] = start
            in_zone = True
        elif node.name.startswith(START) and end is not None and node.name.removeprefix(START) in stopped:
            zone = node.name.removeprefix(START)
            spans.setdefault(zone, []).append((stopped.pop(zone), end))
            in_zone = False
        elif node.name == REINSTALL and not in_zone and start is not None and end is not None:
            spans.setdefault(ALL_ZONES, []).append((start, end))
    return [ZoneDuration(zone=zone, seconds=round(sum((e - s).total_seconds() for s, e in pairs), 3),
                         start_time=_rfc3339(pairs[0][0]), end_time=_rfc3339(pairs[-1][1]))
            for zone, pairs in spans.items()]


def probe_summary(raw: dict | None) -> ProbeSummary | None:
    """The probe report's figures for the whole run and per zone (None without a usable report)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("total"), dict):
        return None
    try:
        return ProbeSummary(total=ProbeFigures.model_validate(raw["total"]),
                            zones=[ProbeZone.model_validate(zone) for zone in raw.get("zones") or []])
    except ValueError:
        return None


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class UpgradeReports:
    """Builds, keeps and reads reports; runs the checks now. Blocking (worker threads)."""

    def __init__(self, sql: Sql, cluster_tasks: Callable[[], TaskService | None], store: UpgradeReportStore,
                 probe_report: Callable[[int], dict | None] = lambda dag_id: None):
        """``sql``: root@sys; ``cluster_tasks``: the cluster's task service (None while its store
        is closed); ``probe_report``: the SQL probe's saved report of a DAG."""
        self.sql = sql
        self.cluster_tasks = cluster_tasks
        self.store = store
        self.probe_report = probe_report

    def build(self, dag_id: int) -> UpgradeReport:
        """The report of upgrade DAG ``dag_id``, checked against its target and backup now."""
        tasks = self._tasks()
        dag = tasks.get_dag(encode_cluster_id(dag_id), show_details=True)
        return self._report(tasks, dag, with_target=True)

    def verify_now(self) -> UpgradeReport:
        """The checks now: against the latest upgrade DAG's target if it succeeded, and its
        parameter backup if it took one; else against the cluster's own lowest build."""
        tasks = self.cluster_tasks()
        dag = None
        if tasks is not None:
            try:
                latest = tasks.get_maintenance_dag(show_details=False)
                dag = latest if is_upgrade_dag(latest) else None
            except ObshellError as exc:
                log.debug("verify: no maintenance DAG to compare with (%s)", exc.message)
        if tasks is None or dag is None:
            return UpgradeReport(**self._checked(Expectation(), None))
        detailed = tasks.get_dag(dag.id, show_details=True)
        return self._report(tasks, detailed, with_target=dag.state == SUCCEED)

    def report(self, gid: str) -> UpgradeReport:
        """The kept report of a DAG by generic id: 400 for a malformed id, 404 when it has none."""
        decoded = decode_generic_id(gid)
        if not decoded.is_cluster:
            raise UPGRADE_REPORT_NOT_FOUND(f"{gid} is not a cluster task; upgrade reports are kept for cluster "
                                           "upgrade DAGs")
        self._tasks()
        report = self.store.load(decoded.id)
        if report is None:
            raise UPGRADE_REPORT_NOT_FOUND(f"DAG {gid} has none (a report is written when an upgrade DAG ends "
                                           "SUCCEED; 'pyobshell cluster verify' runs the checks now)")
        return report

    def _report(self, tasks: TaskService, dag: DagDetailDTO, with_target: bool) -> UpgradeReport:
        saved = tasks.produced_param(dag.dag_id, ctx.OB_PARAMETERS)
        version = tasks.dag_param(dag.dag_id, ctx.VERSION) if with_target else None
        build = tasks.dag_param(dag.dag_id, ctx.BUILD_NUMBER) if with_target else None
        release = tasks.dag_param(dag.dag_id, ctx.RELEASE_DISTRIBUTION) if with_target else None
        expectation = Expectation(str(version) if version else None, str(build) if build else None, saved)
        target = f"{version}-{release}" if version and release else ""
        fields = self._checked(expectation, dag)
        return UpgradeReport(dag_id=dag.dag_id, id=dag.id, target_version=target, **fields)

    def _checked(self, expectation: Expectation, dag: DagDetailDTO | None) -> dict:
        checks = run_checks(self.sql, expectation)
        probe = probe_summary(self.probe_report(dag.dag_id)) if dag is not None else None
        return {"ok": all(check.ok for check in checks), "checks": checks, "probe": probe,
                "zone_durations": zone_durations(dag) if dag is not None else [], "created_at": now_text()}

    def _tasks(self) -> TaskService:
        tasks = self.cluster_tasks()
        if tasks is None:
            raise TASK_ENGINE_UNAVAILABLE("the cluster task store is not open yet (is the observer available?)")
        return tasks


class ReportKeeper:
    """On the maintainer: writes the report of an upgrade DAG once it has ended SUCCEED."""

    def __init__(self, reports: UpgradeReports, is_maintainer: Callable[[], bool], *, poll_s: float = 1.0,
                 settle_s: float = 30.0, retry_s: float = 2.0):
        self.reports = reports
        self.is_maintainer = is_maintainer
        self.poll_s, self.settle_s, self.retry_s = poll_s, settle_s, retry_s
        self._kept: set[int] = set()  # DAGs whose report is known to be stored
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="pyobshell-upgrade-report", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.keep_once()
            except Exception:  # the keeper must never stop the agent; it says why and goes on
                log.exception("upgrade report: unexpected failure; trying again")

    def keep_once(self) -> int | None:
        """Write the report of the latest upgrade DAG if it ended SUCCEED and has none; the DAG
        id when a report was written now."""
        tasks = self.reports.cluster_tasks()
        if tasks is None or not self.is_maintainer():
            return None
        try:
            dag = tasks.get_maintenance_dag(show_details=False)
        except ObshellError:
            return None  # no maintenance DAG yet
        if dag.state != SUCCEED or not is_upgrade_dag(dag) or dag.dag_id in self._kept:
            return None
        if self.reports.store.load(dag.dag_id) is not None:
            self._kept.add(dag.dag_id)
            return None
        report = self._settled(dag.dag_id)
        written = self.reports.store.save(report)
        self._kept.add(dag.dag_id)
        failed = ", ".join(f"{c.name} ({c.detail})" for c in report.failed)
        log.log(logging.INFO if report.ok else logging.WARNING, "upgrade report of DAG %s %s: %s", dag.id,
                "written" if written else "already kept by another agent",
                "every check passed" if report.ok else f"failed: {failed}", extra={"task_id": dag.dag_id})
        return dag.dag_id if written else None

    def _settled(self, dag_id: int) -> UpgradeReport:
        """The report once every check passes, or the last one after ``settle_s``."""
        deadline = time.monotonic() + self.settle_s
        while True:
            report = self.reports.build(dag_id)
            if report.ok or time.monotonic() >= deadline or self._stop.is_set():
                return report
            self._stop.wait(self.retry_s)
