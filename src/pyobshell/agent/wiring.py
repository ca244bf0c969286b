"""Building an agent: its state for the HTTP layer, request security, task engines, the upgrade
service and the upgrade tasks' environment, each wired to the others."""

from __future__ import annotations

import logging
import platform
import threading
from dataclasses import replace

from pyobshell.agent.home import AgentHome
from pyobshell.agent.peers import cluster_peer_statuses
from pyobshell.agent.config import AgentConfig, AgentStartError
from pyobshell.agent.root_password import RootPasswordKeeper
from pyobshell.agent.tasks import AgentTasks, open_cluster_store
from pyobshell.api.dependencies import max_upload_bytes
from pyobshell.api.request_timeouts import RequestTimeouts
from pyobshell.api.state import AgentState
from pyobshell.audit.journal import AuditJournal
from pyobshell.audit.store import AuditStore
from pyobshell.audit.trail import AuditTrail, retention_days as audit_retention_days
from pyobshell.cluster.agent_registry import CLUSTER_AGENT, AgentRecord
from pyobshell.cluster.member import ClusterMember
from pyobshell.cluster.settings import ClusterSettings, SettingsError
from pyobshell.engine import AgentInfo, TaskEngine, TaskStore
from pyobshell.errors import ObshellError
from pyobshell.metrics import AgentMetrics, TaskFigures, configured_token, node_observer, sample_observer
from pyobshell.ob.connection import ObConnectionPool, PoolOptions
from pyobshell.ob.endpoints import ObserverEndpoints, SqlEndpoint
from pyobshell.ob.monitor import ObStateMonitor
from pyobshell.ob.target import ObserverTarget
from pyobshell.security.agent_security import AgentSecurity
from pyobshell.security.keypair import AgentKeyPair
from pyobshell.security.session_store import SessionStore
from pyobshell.security.settings import SecuritySettings, SecuritySettingsError
from pyobshell.upgrade import environment as task_environment, tasks as _upgrade_task_types  # noqa: F401 - registers them
from pyobshell.upgrade.packages.keyring import configured_keyring
from pyobshell.upgrade.packages.store import PACKAGE_STORE_UNAVAILABLE, PackageStore
from pyobshell.upgrade.service import LocalObserver, UpgradeService, cluster_facts_reader
from pyobshell.upgrade.environment import TaskEnvironment
from pyobshell.upgrade.plan import RegisteredAgent
from pyobshell.upgrade.probe_store import ProbeReportStore
from pyobshell.upgrade.report import ReportKeeper, UpgradeReports, UpgradeReportStore
from pyobshell.upgrade.sql_probe import SqlProbe
from pyobshell.upgrade.tasks import context as upgrade_ctx
from pyobshell.wire.upgrade import SloParam
from pyobshell.wire.task import DagDetailDTO
from pyobshell.wire.agent import AgentIdentity

log = logging.getLogger(__name__)


def check_package_settings() -> None:
    """The upload limit and the trusted keyring: a bad one stops the agent at start, with its
    reason, rather than at the first upload."""
    try:
        max_upload_bytes()
        keyring = configured_keyring()
    except ValueError as exc:  # KeyringError is one
        raise AgentStartError(str(exc)) from None
    if keyring is not None:
        log.info("uploaded packages must be signed by one of %d key(s) of %s", len(keyring), keyring.path)


def build_state(config: AgentConfig, target: ObserverTarget) -> AgentState:
    check_package_settings()
    try:
        request_timeouts = RequestTimeouts.from_env()
        audit_days = audit_retention_days()
    except ValueError as exc:
        raise AgentStartError(str(exc)) from exc
    # The probe watches this observer only; the agent's own SQL reaches the cluster through any.
    probe_pool = ObConnectionPool(target, PoolOptions(connect_timeout_s=1.0, max_idle=0))
    endpoints = ObserverEndpoints(SqlEndpoint(target.host, target.sql_port))
    state = AgentState(
        ip=config.ip,
        port=config.port,
        home=config.home,
        observer=target,
        ob_monitor=ObStateMonitor(probe_pool, interval_s=config.ob_probe_interval_s),
        ob_pool=ObConnectionPool(target, endpoints=endpoints),
        request_timeouts=request_timeouts,
        metrics=AgentMetrics(token=configured_token()),
    )
    key_pair = AgentKeyPair.load_or_create(config.home)  # made now rather than on the first request
    state.public_key = key_pair.public_key_b64
    state.security = build_security(config, target, state, key_pair)
    tasks = build_tasks(config, state, endpoints)
    state.tasks = tasks
    install_metrics(state.metrics, tasks)
    state.peer_statuses = lambda: cluster_peer_statuses(tasks)
    state.audit = AuditTrail(AuditStore(lambda: tasks.cluster_engine),
                             AuditJournal.in_log_dir(AgentHome(config.home).log_dir), retention_days=audit_days)
    stores = PackageStores(tasks)
    state.package_store = stores.current
    probe_reports = ProbeReportStore(lambda: tasks.cluster_engine)
    tasks.dag_extras = probe_reports.dag_extras
    reports = UpgradeReports(state.ob_pool, lambda: tasks.services.cluster,
                             UpgradeReportStore(lambda: tasks.cluster_engine), probe_reports.load)
    state.upgrade = build_upgrade_service(config, target, state, stores, probe_reports, reports)
    install_upgrade_environment(config, target, state, stores)
    start_sql_probe(state, tasks, probe_reports)
    start_report_keeper(tasks, reports)
    return state


def start_report_keeper(tasks: AgentTasks, reports: UpgradeReports) -> ReportKeeper:
    """The post-upgrade report's writer: idle unless this agent is the maintainer."""
    def is_maintainer() -> bool:
        member = tasks.member()
        return member is not None and member.is_maintainer

    keeper = ReportKeeper(reports, is_maintainer)
    keeper.start()
    return keeper


def start_sql_probe(state: AgentState, tasks: AgentTasks, reports: ProbeReportStore) -> SqlProbe:
    """The live SQL probe: idle unless this agent is the maintainer and an upgrade DAG runs."""
    assert state.ob_pool is not None
    pool = state.ob_pool

    def current_dag() -> DagDetailDTO | None:
        cluster = tasks.services.cluster
        return cluster.get_maintenance_dag(show_details=True) if cluster is not None else None

    def is_maintainer() -> bool:
        member = tasks.member()
        return member is not None and member.is_maintainer

    def slo_of(dag_id: int) -> SloParam | None:
        cluster = tasks.services.cluster
        raw = cluster.dag_param(dag_id, upgrade_ctx.SLO) if cluster is not None else None
        return SloParam.model_validate(raw) if raw else None

    def pause(dag_id: int, reason: str) -> bool:
        cluster = tasks.services.cluster
        return cluster.pause_dag(dag_id, reason) if cluster is not None else False

    probe = SqlProbe(pool, lambda: (pool.target.user, pool.target.password), current_dag, is_maintainer,
                     reports.save, reports.load, slo_of, pause, on_sample=sample_observer(state.metrics))
    probe.start()
    return probe


def install_metrics(metrics: AgentMetrics, tasks: AgentTasks) -> None:
    """The figures read at scrape time from the stores open then, and node durations from the
    local engine (the cluster member's are hooked when it is made, in ``build_tasks``)."""

    def stores() -> dict[str, TaskStore]:
        cluster = tasks.cluster_store
        return {"local": tasks.local.store, **({"cluster": cluster} if cluster is not None else {})}

    def is_maintainer() -> bool:
        member = tasks.member()
        return member is not None and member.is_maintainer

    metrics.add_collector(TaskFigures(stores, is_maintainer))
    tasks.local.node_observers.add(node_observer(metrics))


class PackageStores:
    """The cluster's package store, on the engine of the cluster store once that is open."""

    def __init__(self, tasks: AgentTasks):
        self._tasks = tasks
        self._store: PackageStore | None = None

    def current(self) -> PackageStore | None:
        engine = self._tasks.cluster_engine
        if engine is None:
            return None
        if self._store is None or self._store.engine is not engine:
            self._store = PackageStore(engine)
        return self._store

    def required(self) -> PackageStore:
        store = self.current()
        if store is None:
            raise PACKAGE_STORE_UNAVAILABLE("the cluster's ocs database is not open on this agent")
        return store


def build_upgrade_service(config: AgentConfig, target: ObserverTarget, state: AgentState,
                          stores: PackageStores, probe_reports: ProbeReportStore,
                          reports: UpgradeReports | None = None) -> UpgradeService:
    assert state.ob_pool is not None and state.tasks is not None
    tasks = state.tasks

    def registered() -> list[RegisteredAgent]:
        registry = tasks.agent_registry()
        return [RegisteredAgent(r.agent, r.zone, r.architecture) for r in registry.agents()] if registry else []

    observer = LocalObserver(state.ob_pool, target.host, target.sql_port, config.port, platform.machine())
    return UpgradeService(cluster_facts_reader(observer, registered), state.ob_pool, stores.required,
                          lambda: tasks.services.cluster, lambda: state.cluster_statuses(5.0),
                          probe_reports=probe_reports, reports=reports)


def install_upgrade_environment(config: AgentConfig, target: ObserverTarget, state: AgentState,
                                stores: PackageStores) -> None:
    """What this agent's upgrade tasks use: its observer, its pool, the cluster's package store
    (opened with the cluster store, so looked up when a task needs it)."""
    try:
        environment = TaskEnvironment.for_observer(
            AgentInfo(config.ip, config.port), config.home, target, stores.required, pool=state.ob_pool)
    except (ValueError, ObshellError) as exc:  # the agent still serves; upgrade tasks say why they cannot run
        log.warning("upgrade tasks cannot run on this agent: %s", exc)
        return
    task_environment.install(environment)


def prepare_package_store(agent: AgentInfo) -> None:
    try:
        task_environment.current(agent).package_store().prepare()
    except Exception as exc:  # the first use prepares them and reports what is wrong
        log.info("package tables not checked at start (%s); the first upgrade does it", exc)


def build_tasks(config: AgentConfig, state: AgentState, endpoints: ObserverEndpoints) -> AgentTasks:
    """The local engine on the home's SQLite file; the cluster store opens when OB is available,
    and then the agent joins the cluster (it becomes a CLUSTER AGENT)."""
    owner = AgentInfo(config.ip, config.port)
    try:
        settings = ClusterSettings.from_env()
    except SettingsError as exc:
        raise AgentStartError(str(exc)) from exc

    def open_cluster() -> TaskStore:  # with the newest root password a client proved
        assert state.observer is not None
        return open_cluster_store(state.observer, state.root_password, owner, endpoints)

    def became_cluster_agent() -> None:
        state.identity = AgentIdentity.CLUSTER_AGENT
        # Check the package tables now, not when the first upgrade downloads its packages.
        threading.Thread(target=prepare_package_store, args=(owner,), name="pyobshell-package-store",
                         daemon=True).start()

    def cluster_agent(local: TaskEngine, cluster: TaskStore) -> ClusterMember:
        record = AgentRecord(ip=config.ip, port=config.port, zone=state.observer.zone if state.observer else "",
                             version=state.version, home_path=str(config.home), identity=CLUSTER_AGENT,
                             public_key=state.public_key(), pid=state.pid, architecture=platform.machine())
        member = ClusterMember(local, cluster, record, config.home, settings, on_joined=became_cluster_agent)
        member.node_observers.add(node_observer(state.metrics))
        member.coordinator.add_listener(state.metrics.maintainer_role)
        return member

    try:
        tasks = AgentTasks.for_agent(AgentHome(config.home).store_path, owner, open_cluster,
                                     cluster_agent=cluster_agent, password=state.root_password)
    except ObshellError as exc:
        raise AgentStartError(exc.message) from exc
    if state.ob_monitor is not None:
        state.ob_monitor.add_listener(tasks.on_ob_state)
    return tasks


def build_security(config: AgentConfig, target: ObserverTarget, state: AgentState,
                   key_pair: AgentKeyPair) -> AgentSecurity:
    """Request authentication: real root@sys logins, the cluster token, the key pair."""

    def use_new_password(password: str) -> None:  # a client proved the password changed in OB
        for pool in (state.ob_pool, state.ob_monitor.pool if state.ob_monitor else None):
            if pool is not None:
                pool.target = replace(pool.target, password=password)

    try:
        settings = SecuritySettings.from_env()
    except SecuritySettingsError as exc:
        raise AgentStartError(str(exc)) from exc
    sessions = SessionStore(lambda: state.tasks.cluster_engine if state.tasks is not None else None,
                            timeout_s=settings.session_timeout_s, origin=f"{config.ip}:{config.port}")

    def password_changed(password: str) -> None:
        use_new_password(password)
        try:
            ended = sessions.end_all()  # as obshell: a new root password ends every web session
            log.info("the root@sys password changed: %d web session(s) ended", ended)
        except ObshellError as exc:
            log.warning("the root@sys password changed, but the sessions could not be ended: %s", exc.message)

    keeper = RootPasswordKeeper.for_observer(target, config.home, key_pair, on_change=password_changed)
    # No agent password can be set yet; a later set-password route passes its source here.
    return AgentSecurity.for_agent(config.home, key_pair, keeper, sessions=sessions, settings=settings.verifier,
                                   on_lockout=state.metrics.locked_out)


