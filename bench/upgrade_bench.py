"""Rolling upgrade figures: a 3-zone simulated cluster with agents, upgraded 4.2.1.0 -> 4.2.1.1
through POST /api/v1/ob/upgrade, with the simulator's realistic delays.

Run: `.venv/bin/python bench/upgrade_bench.py [--runs N] [--profile realistic|fast] [--net N]
[--timings name=seconds,...] [--nodes]` (--timings: the agents' wait/poll overrides).
Each run is a whole cluster (sim up, upload, upgrade, sim down) on loopback 127.<net>.x.x.
Prints, as the median of the runs (nothing is asserted):

* total: the DAG's start to its end (and the client's wall time from the request to SUCCEED);
* inside: the time the cluster itself needs — each restarted observer's process start until
  it is in service with its logs in sync (the simulator's start-up and catch-up delays; zones
  restart one after another, the servers of a zone together), plus every script sub-task;
* overhead = total - inside (goal: at most 5 % of the total);
* readiness gap: an observer in service and in sync until the DAG's next node starts (goal:
  at most 0.5 s), the worst of the zones;
* what clients saw, from the maintainer's live SQL probe (``GET /api/v1/ob/upgrade/probe``):
  the statements that succeeded, their p99 latency, the longest time without a successful write.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pymysql

from pyobshell.client import ObshellClient, ObshellClientError
from pyobshell.ob.process import process_start_time
from pyobshell.sim.settings import SimSettings
from pyobshell.upgrade.environment import UPGRADE_TIMINGS_ENV as TIMINGS_ENV

PYOBSHELL = [sys.executable, "-m", "pyobshell.cli.main"]
PASSWORD = "bench-Upgrade1"
OLD_VERSION, OLD_RELEASE = "4.2.1.0", "100000012023101010.el7"
NEW_VERSION, NEW_RELEASE = "4.2.1.1", "101000062023110109.el7"
REINSTALL = "Reinstall and restart observer"
SCRIPT_NODES = ("Execute upgrade checker script", "Execute upgrade pre script", "Execute upgrade health checker script",
                "Execute upgrade zone health checker script", "Execute upgrade post script")
RUN_TIMEOUT_S = 600
MAX_RUNS = 5
POLL_S = 0.25  # as often as a watching operator's client at most; the DAG's own times are what count


@dataclass(frozen=True)
class NodeTiming:
    name: str
    offset_s: float  # start, after the DAG's start
    duration_s: float
    dispatch_s: float  # node start -> first sub-task start
    collect_s: float  # last sub-task end -> node end

    @classmethod
    def of(cls, node: dict, dag_start: float) -> "NodeTiming":
        start, end = span(node)
        tasks = [span(task) for task in node["sub_tasks"] if task.get("start_time") and task.get("end_time")]
        first = min((s for s, _ in tasks), default=start)
        last = max((e for _, e in tasks), default=end)
        return cls(node["name"], start - dag_start, end - start, first - start, end - last)


@dataclass(frozen=True)
class RunFigures:
    total_s: float  # DAG start to end
    client_s: float  # request sent to SUCCEED seen
    restarts_s: float
    scripts_s: float
    gaps_s: list[float]  # per zone: ready -> next node started
    nodes: list["NodeTiming"]
    probe: dict  # the SQL probe's "total" figures

    @property
    def overhead_s(self) -> float:
        return self.total_s - self.restarts_s - self.scripts_s


def cli(*args: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run([*PYOBSHELL, *args], capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=env)
    if result.returncode != 0:
        raise SystemExit(f"pyobshell {' '.join(args[:2])} failed:\n{result.stdout}\n{result.stderr}")


def moment(text: str) -> float:
    """An RFC 3339 time of the DAG as seconds since the epoch."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def span(item: dict) -> tuple[float, float]:
    return moment(item["start_time"]), moment(item["end_time"])


def in_service_times(observer: dict) -> dict[str, float]:
    """START_SERVICE_TIME of every server (local time, as OceanBase shows it), by IP."""
    conn = pymysql.connect(host=observer["ip"], port=observer["sql_port"], user="root@sys", password=PASSWORD,
                           database="oceanbase", connect_timeout=5)
    with conn, conn.cursor() as cursor:
        cursor.execute("SELECT SVR_IP, START_SERVICE_TIME FROM DBA_OB_SERVERS")
        return {ip: when.timestamp() for ip, when in cursor.fetchall()}


def process_start(observer: dict) -> float:
    pid = int((Path(observer["home"]) / "run" / "observer.pid").read_text())
    started = process_start_time(pid)
    if started is None:
        raise SystemExit(f"observer pid {pid} of {observer['ip']} is not running")
    return started


def probe_total(api: ObshellClient) -> dict:
    """The probe's figures for the whole upgrade, once its last save is in (within a second or two)."""
    deadline = time.monotonic() + 15
    report: dict = {}
    while time.monotonic() < deadline:
        try:
            report = api.request("GET", "/api/v1/ob/upgrade/probe")
        except ObshellClientError:
            report = {}
        if report and not report["running"]:
            break
        time.sleep(0.5)
    return report.get("total", {})


def figures(dag: dict, cluster: dict, catchup_s: float, client_s: float, probe: dict) -> RunFigures:
    nodes = dag["nodes"]
    started = {o["ip"]: process_start(o) for o in cluster["observers"]}
    serving = in_service_times(cluster["observers"][0])
    ready = {ip: serving[ip] + catchup_s for ip in started}  # in service, then logs in sync
    restarts, gaps = 0.0, []
    for index, node in enumerate(nodes):
        if node["name"] != REINSTALL:
            continue
        ips = [task["execute_agent"]["ip"] for task in node["sub_tasks"]]
        zone_ready = max(ready[ip] for ip in ips)
        restarts += zone_ready - min(started[ip] for ip in ips)
        gaps.append(moment(nodes[index + 1]["start_time"]) - zone_ready)
    scripts = sum(end - start for node in nodes if node["name"] in SCRIPT_NODES
                  for start, end in map(span, node["sub_tasks"]))
    start, end = span(dag)
    timeline = [NodeTiming.of(node, start) for node in nodes]
    return RunFigures(end - start, client_s, restarts, scripts, gaps, timeline, probe)


def one_run(root: Path, packages: list[Path], net: int, profile: str, timings: str) -> RunFigures:
    directory = root / f"cluster-{time.monotonic_ns()}"
    env = {**os.environ, TIMINGS_ENV: timings} if timings else None  # `sim up` passes it to the agents
    cli("sim", "up", "--dir", str(directory), "--zones", "3", "--version", OLD_VERSION, "--release", OLD_RELEASE,
        "--root-password", PASSWORD, "--net", str(net), "--profile", profile, env=env)
    try:
        cluster = json.loads((directory / "cluster.json").read_text())
        agent = cluster["agents"][0]
        with ObshellClient(f"{agent['ip']}:{agent['port']}", password=PASSWORD, timeout=60) as api:
            for package in packages:
                api.upload_package(package)
            body = {"version": NEW_VERSION, "release": NEW_RELEASE, "mode": "ROLLING", "upgradeDir": ""}
            sent = time.perf_counter()
            created = api.request("POST", "/api/v1/ob/upgrade", body)
            deadline = sent + RUN_TIMEOUT_S
            while time.perf_counter() < deadline:
                try:
                    state = api.request("GET", f"/api/v1/task/dag/{created['id']}", query={"show_details": "false"})
                except ObshellClientError:  # this agent's observer restarts too: its store is away meanwhile
                    state = {"state": "unknown"}
                if state["state"] in ("SUCCEED", "FAILED"):
                    break
                time.sleep(POLL_S)
            client_s = time.perf_counter() - sent
            dag = api.request("GET", f"/api/v1/task/dag/{created['id']}", query={"show_details": "true"})
            probe = probe_total(api)
        if dag["state"] != "SUCCEED":
            raise SystemExit(f"the upgrade ended {dag['state']}: "
                             f"{[(n['name'], n['state']) for n in dag['nodes'] if n['state'] != 'SUCCEED']}")
        settings = SimSettings.realistic() if profile == "realistic" else SimSettings.fast()
        return figures(dag, cluster, settings.catchup_delay, client_s, probe)
    finally:
        subprocess.run([*PYOBSHELL, "sim", "down", "--dir", str(directory)], capture_output=True, timeout=120)


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(runs: list[RunFigures], profile: str, timings: str) -> None:
    def line(label: str, values: list[float], unit: str = "s") -> None:
        shown = ", ".join(f"{v:.2f}" for v in values)
        print(f"{label:<48} median {median(values):7.2f} {unit}   (runs: {shown})")

    print(f"3-zone rolling upgrade {OLD_VERSION} -> {NEW_VERSION}, {profile} delays, {len(runs)} run(s), "
          f"agent timings: {timings or 'defaults'}")
    line("total (DAG start to end)", [r.total_s for r in runs])
    line("client: request to SUCCEED seen", [r.client_s for r in runs])
    line("inside observer restarts (start to in sync)", [r.restarts_s for r in runs])
    line("inside scripts", [r.scripts_s for r in runs])
    line("orchestration overhead", [r.overhead_s for r in runs])
    line("overhead share of the total (goal <= 5 %)", [100 * r.overhead_s / r.total_s for r in runs], "%")
    line("readiness gap, worst zone (goal <= 0.5 s)", [max(r.gaps_s) for r in runs])
    line("readiness gap, median zone", [median(r.gaps_s) for r in runs])
    probed = [r.probe for r in runs if r.probe]
    if probed:
        line("SQL probe: statements that succeeded", [p["success_pct"] for p in probed], "%")
        line("SQL probe: p99 latency", [p["p99_ms"] for p in probed], "ms")
        line("SQL probe: longest write gap", [p["longest_write_gap_ms"] for p in probed], "ms")
        line("SQL probe: statements per run", [float(p["samples"]) for p in probed], "")
    else:
        print("SQL probe: no report (the agents run without the probe?)")


def print_timeline(run: RunFigures) -> None:
    print("nodes of the last run: start after the DAG's start, duration, node start to first sub-task "
          "start, last sub-task end to node end, gap to the next node")
    for node, after in zip(run.nodes, [*run.nodes[1:], None]):
        gap = after.offset_s - node.offset_s - node.duration_s if after else 0.0
        print(f"  {node.offset_s:7.2f} s  {node.duration_s:6.2f} s  {node.dispatch_s:5.2f}  {node.collect_s:5.2f}"
              f"  {gap:5.2f}  {node.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help=f"whole upgrades to run (1..{MAX_RUNS})")
    parser.add_argument("--profile", default="realistic", choices=("realistic", "fast"))
    parser.add_argument("--net", type=int, default=49, help="loopback network 127.<net>.x.x")
    parser.add_argument("--timings", default="", help=f"the agents' {TIMINGS_ENV}, e.g. poll_max_s=0.5")
    parser.add_argument("--nodes", action="store_true", help="also print the last run's node timeline")
    args = parser.parse_args()
    if not 1 <= args.runs <= MAX_RUNS:
        parser.error(f"--runs must be between 1 and {MAX_RUNS}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cli("sim", "package", "--version", NEW_VERSION, "--release", NEW_RELEASE, "--out", str(root / "rpm"))
        packages = sorted((root / "rpm").glob("*.rpm"))
        runs = [one_run(root, packages, args.net, args.profile, args.timings) for _ in range(args.runs)]
    report(runs, args.profile, args.timings)
    if args.nodes:
        print_timeline(runs[-1])


if __name__ == "__main__":
    main()
