"""The kill matrix: one agent killed with SIGKILL while a chosen stage of a 3-zone rolling
upgrade runs, on a fresh simulated cluster per case, and what it cost.

Cases (``KillCase.kind``):

* ``maintainer``: the maintainer's agent, restarted at once;
* ``executor``: a non-maintainer agent (the one whose observer the stage works on, where
  there is one), restarted at once;
* ``dead``: a non-maintainer agent during its zone's reinstall, left dead past the executor
  silence limit; started again after the DAG failed, then RETRY;
* ``observer``: zone 3's observer killed while zone 1 is upgraded (outside its own stage);
  started again after the DAG failed, then RETRY.

The stage is caught by polling the cluster store (``ocs.dag_instance``) every few
milliseconds through any observer that answers. Each case reports whether the kill landed
while the stage's node was still RUNNING, the time from the kill to the next stage, the
outcome and the operator actions it needed, and checks that nothing was lost: every agent
answers the whole DAG with every sub-task's log, and the package store lists the packages.
Used by ``bench/kill_matrix.py`` (all 26 stages, both roles) and by a short subset in the suite.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pymysql

from pyobshell.agent.home import AgentHome
from pyobshell.client import ObshellClient, ObshellClientError
from pyobshell.engine.model import State
from pyobshell.sim.cluster import start_observer
from tests.helpers.sim import kill_observer, run_cli

PASSWORD = "kill-Matrix1"
OLD_VERSION, OLD_RELEASE = "4.2.1.0", "100000012023101010.el7"
NEW_VERSION, NEW_RELEASE = "4.2.1.1", "101000062023110109.el7"
STAGES = 26
LEASE_S, RENEW_S, SILENCE_S = 3.0, 1.0, 60.0  # silence as in production: a restart on a busy host fits
SCRIPT_BUDGET_S = 25.0  # script_run_timeout_s of the observer case: a zone check waiting on a dead server
READY_BUDGET_S = 40.0  # cluster_ready_wait_s: a restarted observer waiting for a dead one to serve
CASE_TIMEOUT_S = 300.0
RUNNING, SUCCEED, FAILED = int(State.RUNNING), int(State.SUCCEED), int(State.FAILED)  # as stored
KINDS = ("maintainer", "executor", "dead", "observer")


@dataclass(frozen=True)
class KillCase:
    kind: str
    stage: int = 0  # the stage to kill in (maintainer/executor); chosen by the case otherwise

    @property
    def label(self) -> str:
        return f"{self.kind} @ stage {self.stage}" if self.stage else self.kind


@dataclass
class CaseResult:
    case: KillCase
    stage_name: str = ""
    victim: str = ""
    hit: bool = False  # the stage's node was still RUNNING when the kill landed
    outcome: str = ""
    kill_to_next_stage_s: float | None = None
    actions: list[str] = field(default_factory=list)
    failure: str = ""  # the failed step's log line that names the cause (dead/observer cases)
    lost: list[str] = field(default_factory=list)  # what the after-checks found missing
    total_s: float = 0.0
    restart_s: float | None = None  # kill to `agent start` returning
    reads: int = 0  # DAG reads answered by a live agent during the case
    read_errors: list[str] = field(default_factory=list)  # those answered 5xx

    @property
    def ok(self) -> bool:
        restarted = self.case.kind in ("maintainer", "executor")
        expected = [] if restarted else ["RETRY"]
        # a case that needs an operator must have told them which agent or observer to look at
        named = restarted or self.victim.split()[-1].split(":")[0] in self.failure
        return (self.outcome == "SUCCEED" and self.actions == expected and named and not self.lost
                and not self.read_errors)


def agent_env() -> dict[str, str]:
    return {"PYOBSHELL_MAINTAINER_LEASE_S": str(LEASE_S), "PYOBSHELL_MAINTAINER_RENEW_S": str(RENEW_S),
            "PYOBSHELL_EXECUTOR_SILENCE_S": str(SILENCE_S), "OB_ROOT_PASSWORD": PASSWORD,
            "PYOBSHELL_UPGRADE_TIMINGS": f"script_run_timeout_s={SCRIPT_BUDGET_S:g},"
                                         f"cluster_ready_wait_s={READY_BUDGET_S:g}"}


def build_packages(out: Path) -> list[Path]:
    run_cli("sim", "package", "--version", NEW_VERSION, "--release", NEW_RELEASE, "--out", str(out))
    return sorted(out.glob("*.rpm"))


class StoreWatch:
    """Reads the DAG's stage and the maintainer from the cluster store, through any observer."""

    def __init__(self, observers: list[dict]):
        self.observers = observers
        self._conn: pymysql.Connection | None = None

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        for _ in range(len(self.observers) * 2):
            try:
                if self._conn is None:
                    self._conn = self._connect()
                with self._conn.cursor() as cursor:
                    cursor.execute(sql, args)
                    return list(cursor.fetchall())
            except (pymysql.MySQLError, OSError):
                self._conn = None
        return []

    def _connect(self) -> pymysql.Connection:
        last: Exception | None = None
        for observer in self.observers:
            try:
                return pymysql.connect(host=observer["ip"], port=observer["sql_port"], user="root@sys",
                                       password=PASSWORD, database="ocs", connect_timeout=2, read_timeout=5,
                                       autocommit=True)
            except pymysql.MySQLError as error:
                last = error
        raise pymysql.OperationalError(f"no observer answers: {last}")

    def stage(self, dag_id: int) -> tuple[int, int, int] | None:
        """(DAG stage, DAG state, state of the node at that stage)."""
        rows = self._query("SELECT d.stage, d.state, n.state FROM dag_instance d JOIN node_instance n "
                           "ON n.dag_id = d.id AND n.dag_stage = d.stage WHERE d.id = %s", (dag_id,))
        return tuple(int(v) for v in rows[0]) if rows else None  # type: ignore[return-value]

    def executors(self, dag_id: int, stage: int) -> list[str]:
        rows = self._query("SELECT s.executer_agent_ip, s.executer_agent_port FROM subtask_instance s JOIN "
                           "node_instance n ON s.node_id = n.id WHERE n.dag_id = %s AND n.dag_stage = %s",
                           (dag_id, stage))
        return [f"{ip}:{int(port)}" for ip, port in rows]

    def stage_names(self, dag_id: int) -> list[str]:
        rows = self._query("SELECT name FROM node_instance WHERE dag_id = %s ORDER BY dag_stage", (dag_id,))
        return [str(row[0]) for row in rows]

    def maintainer(self) -> str:
        rows = self._query("SELECT agent_ip, agent_port FROM task_maintainer WHERE id = 1")
        return f"{rows[0][0]}:{int(rows[0][1])}" if rows else ""

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


class Rig:
    """One simulated 3-zone cluster with agents, for one case."""

    def __init__(self, root: Path, net: int):
        self.directory = root / f"case-{time.monotonic_ns()}"
        self.net = net
        self.document: dict = {}

    def __enter__(self) -> "Rig":
        run_cli("sim", "up", "--dir", str(self.directory), "--zones", "3", "--version", OLD_VERSION,
                "--release", OLD_RELEASE, "--root-password", PASSWORD, "--net", str(self.net), "--profile", "fast",
                env={**os.environ, **agent_env()})
        self.document = json.loads((self.directory / "cluster.json").read_text())
        return self

    def __exit__(self, *_: object) -> None:
        run_cli("sim", "down", "--dir", str(self.directory), check=False)

    @property
    def agents(self) -> list[dict]:
        return self.document["agents"]

    def agent(self, address: str) -> dict:
        return next(a for a in self.agents if f"{a['ip']}:{a['port']}" == address)

    def agents_of(self, zone: str) -> list[dict]:
        ips = {o["ip"] for o in self.document["observers"] if o["zone"] == zone}
        return [a for a in self.agents if a["ip"] in ips]

    def observer_of(self, agent: dict) -> dict:
        return next(o for o in self.document["observers"] if o["ip"] == agent["ip"])

    def client(self, agent: dict) -> ObshellClient:
        return ObshellClient(f"{agent['ip']}:{agent['port']}", password=PASSWORD, timeout=30)

    def kill_agent(self, agent: dict) -> None:
        pid = AgentHome(Path(agent["home"])).read_pid()
        if pid is None:
            raise AssertionError(f"agent in {agent['home']} is not running")
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
            if time.monotonic() > deadline:
                raise AssertionError(f"agent pid {pid} did not die")
            time.sleep(0.01)

    def start_agent(self, agent: dict) -> None:
        observer = self.observer_of(agent)
        run_cli("agent", "start", "--home", agent["home"], "--ip", agent["ip"], "--port", str(agent["port"]),
                "--ob-home", observer["home"], env={**os.environ, **agent_env()})


class DagReaders(threading.Thread):
    """Reads the DAG through every agent twice a second while the case runs, as clients
    following it would: an agent that answers must answer it (a refused connection is a dead
    agent; a 5xx is a read its store could not serve while an observer restarted)."""

    def __init__(self, rig: Rig, gid: str):
        super().__init__(daemon=True)
        self.rig, self.gid = rig, gid
        self.reads = 0
        self.errors: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        clients: dict[str, ObshellClient] = {}
        while not self.done.wait(0.5):
            for agent in self.rig.agents:
                address = f"{agent['ip']}:{agent['port']}"
                client = clients.setdefault(address, ObshellClient(address, password=PASSWORD, timeout=10))
                try:
                    response = client.raw_request("GET", f"/api/v1/task/dag/{self.gid}")
                except (ObshellClientError, OSError):
                    clients.pop(address).close()  # not listening (killed, starting again); new key after
                    continue
                self.reads += 1
                if response.status_code >= 500:
                    self.errors.append(f"{agent['ip']}: {response.status_code} {response.text[:120]}")
        for client in clients.values():
            client.close()


def wait_dag(api: Callable[[], ObshellClient], gid: str, timeout: float = CASE_TIMEOUT_S) -> dict:
    """Follow the DAG to SUCCEED/FAILED through the given agent (retrying while it is away)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with api() as client:
                dag = client.request("GET", f"/api/v1/task/dag/{gid}", query={"show_details": "false"})
            if dag["state"] in ("SUCCEED", "FAILED"):
                return dag
        except (ObshellClientError, OSError):
            pass
        time.sleep(0.25)
    raise AssertionError(f"DAG {gid} did not finish within {timeout:.0f} s; {_running(api, gid)}")


def _running(api: Callable[[], ObshellClient], gid: str) -> str:
    """The unfinished sub-tasks and the last line each logged (what a timeout reports)."""
    try:
        with api() as client:
            dag = client.request("GET", f"/api/v1/task/dag/{gid}", query={"show_details": "true"})
    except (ObshellClientError, OSError) as exc:
        return f"(the DAG cannot be read: {exc})"
    open_tasks = [f"{node['name']} on {task['execute_agent']['ip']} {task['state']}: "
                  f"{(task.get('task_logs') or ['(no log)'])[-1][:200]}"
                  for node in dag["nodes"] for task in node["sub_tasks"] if task["state"] not in ("SUCCEED", "PENDING")]
    return "; ".join(open_tasks) or f"DAG {dag['state']}, no sub-task running"


def failed_log(rig: Rig, gid: str) -> str:
    with rig.client(rig.agents[0]) as client:
        dag = client.request("GET", f"/api/v1/task/dag/{gid}", query={"show_details": "true"})
    for node in dag["nodes"]:
        for task in node["sub_tasks"]:
            if task["state"] == "FAILED":
                logs = task.get("task_logs") or ["(no log)"]
                named = [line for line in logs if line.startswith("ERROR")] or logs
                return f"{node['name']} on {task['execute_agent']['ip']}: {named[-1]}"
    return "(no failed sub-task)"


def lost_after(rig: Rig, gid: str, packages: list[Path]) -> list[str]:
    """What is missing afterwards: the DAG, its logs or the packages, as each agent answers."""
    lost = []
    names = {p.name for p in packages}
    for agent in rig.agents:
        where = f"{agent['ip']}"
        try:
            with rig.client(agent) as client:
                dag = client.request("GET", f"/api/v1/task/dag/{gid}", query={"show_details": "true"})
                stored = {package.rpm_file_name for package in client.list_packages()}
        except (ObshellClientError, OSError, KeyError) as error:
            lost.append(f"{where}: cannot read: {error}")
            continue
        if len(dag["nodes"]) != STAGES or dag["state"] != "SUCCEED":
            lost.append(f"{where}: DAG {dag['state']} with {len(dag['nodes'])} nodes")
        silent = [n["name"] for n in dag["nodes"] for t in n["sub_tasks"] if not t.get("task_logs")]
        if silent:
            lost.append(f"{where}: sub-tasks without logs: {sorted(set(silent))}")
        if not names <= stored:
            lost.append(f"{where}: packages missing: {sorted(names - stored)}")
    return lost


def start_upgrade(rig: Rig, packages: list[Path]) -> tuple[str, int]:
    """Upload, start; the DAG's id and row id."""
    with rig.client(rig.agents[0]) as client:
        for package in packages:
            client.upload_package(package)
        body = {"version": NEW_VERSION, "release": NEW_RELEASE, "mode": "ROLLING", "upgradeDir": ""}
        dag = client.request("POST", "/api/v1/ob/upgrade", body)
    return dag["id"], int(dag["dag_id"])


def wait_stage(watch: StoreWatch, dag_id: int, stage: int, timeout: float = CASE_TIMEOUT_S) -> tuple[int, int, int]:
    """Poll until the node of ``stage`` runs (or the DAG is past it, or finished); what was seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = watch.stage(dag_id)
        if seen is not None and ((seen[0] == stage and seen[2] == RUNNING) or seen[0] > stage
                                 or seen[1] in (SUCCEED, FAILED)):
            return seen
        time.sleep(0.002)
    raise AssertionError(f"stage {stage} not reached within {timeout:.0f} s")


def wait_next_stage(watch: StoreWatch, dag_id: int, stage: int, timeout: float = CASE_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = watch.stage(dag_id)
        if seen is not None and (seen[0] > stage or seen[1] in (SUCCEED, FAILED)):
            return
        time.sleep(0.01)
    raise AssertionError(f"stage {stage} did not end within {timeout:.0f} s")


def retry(rig: Rig, gid: str, via: dict | None = None) -> None:
    with rig.client(via or rig.agents[0]) as client:
        client.request("POST", f"/api/v1/task/dag/{gid}", {"operator": "RETRY"})


def run_case(case: KillCase, root: Path, packages: list[Path], net: int) -> CaseResult:
    result = CaseResult(case)
    began = time.monotonic()
    with Rig(root, net) as rig:
        watch = StoreWatch(rig.document["observers"])
        try:
            gid, dag_id = start_upgrade(rig, packages)
            names = watch.stage_names(dag_id)
            if len(names) != STAGES:
                raise AssertionError(f"the upgrade has {len(names)} stages, not {STAGES}")
            readers = DagReaders(rig, gid)
            readers.start()
            try:
                {"maintainer": _restart_case, "executor": _restart_case, "dead": _dead_agent_case,
                 "observer": _observer_case}[case.kind](rig, watch, gid, dag_id, names, result)
            finally:
                readers.done.set()
                readers.join(15)
            result.reads, result.read_errors = readers.reads, readers.errors
            result.lost = lost_after(rig, gid, packages) if result.outcome == "SUCCEED" else []
        finally:
            watch.close()
    result.total_s = time.monotonic() - began
    return result


def _victim(rig: Rig, watch: StoreWatch, dag_id: int, stage: int, kind: str) -> dict:
    maintainer = watch.maintainer()
    if kind == "maintainer":
        return rig.agent(maintainer)
    executors = [e for e in watch.executors(dag_id, stage) if e != maintainer]
    address = executors[0] if executors else next(f"{a['ip']}:{a['port']}" for a in rig.agents[::-1]
                                                   if f"{a['ip']}:{a['port']}" != maintainer)
    return rig.agent(address)


def _restart_case(rig: Rig, watch: StoreWatch, gid: str, dag_id: int, names: list[str], result: CaseResult) -> None:
    stage = result.case.stage
    result.stage_name = names[stage - 1]
    wait_stage(watch, dag_id, stage)
    victim = _victim(rig, watch, dag_id, stage, result.case.kind)
    rig.kill_agent(victim)
    killed = time.monotonic()
    seen = watch.stage(dag_id)
    result.hit = seen is not None and seen[0] == stage and seen[2] == RUNNING
    result.victim = f"{victim['ip']}:{victim['port']}"
    restarted: list[float] = []
    restart = threading.Thread(target=lambda: (rig.start_agent(victim), restarted.append(time.monotonic())),
                               daemon=True)
    restart.start()
    wait_next_stage(watch, dag_id, stage)
    result.kill_to_next_stage_s = time.monotonic() - killed
    restart.join(120)
    result.restart_s = restarted[0] - killed if restarted else None
    result.outcome = wait_dag(lambda: rig.client(rig.agents[0]), gid)["state"]
    if result.outcome == "FAILED":
        result.failure = failed_log(rig, gid)


def _zone_stage(names: list[str], name: str, zone: str) -> int:
    """The stage of the node ``name`` of ``zone`` (rolling: the zone nodes come in zone order)."""
    zones = ("zone1", "zone2", "zone3")
    hits = [index + 1 for index, node in enumerate(names) if node.startswith(name)]
    return hits[zones.index(zone)]


def _dead_agent_case(rig: Rig, watch: StoreWatch, gid: str, dag_id: int, names: list[str],
                     result: CaseResult) -> None:
    maintainer = watch.maintainer()
    zone = next(z for z in ("zone2", "zone3", "zone1")
                if f"{rig.agents_of(z)[0]['ip']}:{rig.agents_of(z)[0]['port']}" != maintainer)
    victim = rig.agents_of(zone)[0]  # an executor (not the maintainer), killed in its zone's reinstall
    survivor = next(a for a in rig.agents if a is not victim)
    stage = _zone_stage(names, "Reinstall", zone)
    result.stage_name = f"{names[stage - 1]} ({zone})"
    wait_stage(watch, dag_id, stage)
    rig.kill_agent(victim)
    killed = time.monotonic()
    result.victim = f"{victim['ip']}:{victim['port']}"
    seen = watch.stage(dag_id)
    result.hit = seen is not None and seen[0] == stage and seen[2] == RUNNING
    first = wait_dag(lambda: rig.client(survivor), gid, timeout=SILENCE_S + 90)
    result.kill_to_next_stage_s = time.monotonic() - killed
    result.failure = failed_log(rig, gid) if first["state"] == "FAILED" else ""
    if first["state"] == "FAILED":
        rig.start_agent(victim)
        retry(rig, gid, survivor)
        result.actions.append("RETRY")
    result.outcome = wait_dag(lambda: rig.client(survivor), gid)["state"]


def _observer_case(rig: Rig, watch: StoreWatch, gid: str, dag_id: int, names: list[str],
                   result: CaseResult) -> None:
    stage = _zone_stage(names, "Stop zone", "zone1")
    result.stage_name = names[stage - 1]
    wait_stage(watch, dag_id, stage)
    observer = rig.document["observers"][2]
    kill_observer(observer)
    killed = time.monotonic()
    result.victim = f"observer {observer['ip']}"
    first = wait_dag(lambda: rig.client(rig.agents[0]), gid, timeout=READY_BUDGET_S + SCRIPT_BUDGET_S + 120)
    result.kill_to_next_stage_s = time.monotonic() - killed
    if first["state"] == "FAILED":
        result.failure = failed_log(rig, gid)
        start_observer(Path(observer["home"]))
        retry(rig, gid)
        result.actions.append("RETRY")
    result.outcome = wait_dag(lambda: rig.client(rig.agents[0]), gid)["state"]


def table(results: list[CaseResult]) -> str:
    lines = [f"{'case':<22} {'stage':<44} {'victim':<22} {'hit':<4} {'outcome':<8} {'kill->next':>10} "
             f"{'actions':<8} {'total':>7}  notes"]
    for r in results:
        after = f"{r.kill_to_next_stage_s:.1f} s" if r.kill_to_next_stage_s is not None else "-"
        restart = f"restarted after {r.restart_s:.1f} s" if r.restart_s is not None else ""
        reads = f"reads {r.reads - len(r.read_errors)}/{r.reads} ok"
        notes = "; ".join(filter(None, [reads, restart, r.failure[:110], *r.lost, *r.read_errors[:2]]))
        lines.append(f"{r.case.label:<22} {r.stage_name[:44]:<44} {r.victim:<22} {'yes' if r.hit else 'no':<4} "
                     f"{r.outcome:<8} {after:>10} {','.join(r.actions) or 'none':<8} {r.total_s:6.0f}s  {notes}")
    return "\n".join(lines)
