"""Agent figures: GET /api/v1/task/dag/{id} latency under 50 concurrent clients, idle RSS, /status cost.

Starts a one-observer simulated cluster (loopback 127.<net>.1.1) and a real agent beside it,
writes a DAG into the agent's SQLite store before the agent starts (its task type comes from
``bench_tasks.py``, loaded by the agent through PYOBSHELL_TASK_MODULES), waits until the agent
has run it, then measures:

* idle RSS of the agent process (median of a few samples; goal: <= 80 MB);
* **paced**: ``--clients`` clients each polling ``GET /api/v1/task/dag/{id}`` (with details)
  every ``--interval`` seconds, as clients watching a task do (goal: p99 <= 20 ms);
* **saturation**: the same clients in a closed loop (each sends its next request as soon as
  the previous one answered), so latency is about clients / throughput: a capacity figure;
* agent CPU per request in each mode, and per ``GET /api/v1/status``.

Every request is encrypted and verified like a real client's (root password). Each mode runs
``--runs`` times; every run prints p50/p99/max and the summary the median over runs. Time is
bounded (``--seconds`` per run), traffic stays on loopback, and nothing is asserted.

    .venv/bin/python bench/agent_bench.py [--clients 50] [--interval 0.5] [--runs 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench_tasks import BenchStep
from pyobshell.agent.home import AgentHome
from pyobshell.agent.tasks import TASK_MODULES_ENV
from pyobshell.client import AsyncObshellClient, ObshellClient
from pyobshell.engine import DEFAULT_REGISTRY, AgentInfo, StoreKind, TaskService, TaskStore, TemplateBuilder

PYOBSHELL = [sys.executable, "-m", "pyobshell.cli.main"]
PASSWORD = "benchpw"
AGENT_PORT = 2886
GOAL_P99_MS = 20.0
GOAL_RSS_MB = 80.0


def cli(*args: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run([*PYOBSHELL, *args], capture_output=True, text=True, timeout=300, env=env)
    if result.returncode != 0:
        raise SystemExit(f"pyobshell {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


@dataclass
class Setup:
    ip: str
    gid: str
    pid: int

    @property
    def agent(self) -> str:
        return f"{self.ip}:{AGENT_PORT}"

    @property
    def dag_path(self) -> str:
        return f"/api/v1/task/dag/{self.gid}"


@contextmanager
def agent_with_dag(directory: Path, net: int, nodes: int) -> Iterator[Setup]:
    cluster, home = directory / "cluster", directory / "agent"
    ip = f"127.{net}.1.1"
    cli("sim", "up", "--dir", str(cluster), "--zones", "1", "--servers-per-zone", "1", "--root-password", PASSWORD,
        "--net", str(net), "--no-agents", "--profile", "fast")
    try:
        AgentHome(home).create_dirs()
        store = TaskStore(f"sqlite:///{AgentHome(home).store_path}", StoreKind.LOCAL, owner=AgentInfo(ip, AGENT_PORT))
        try:
            builder = TemplateBuilder("bench DAG")
            for index in range(nodes):
                builder.add_task(BenchStep(name=f"step-{index}"))
            gid = TaskService(store, DEFAULT_REGISTRY).create_dag(builder.build()).id
        finally:
            store.close()
        env = dict(os.environ, OB_ROOT_PASSWORD=PASSWORD, **{TASK_MODULES_ENV: "bench_tasks"})
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).parent), env.get("PYTHONPATH", "")) if p)
        cli("agent", "start", "--home", str(home), "--ip", ip, "--port", str(AGENT_PORT),
            "--ob-home", observer_home(cluster), env=env)
        try:
            pid = AgentHome(home).read_pid()
            assert pid is not None
            yield Setup(ip, gid, pid)
        finally:
            cli("agent", "stop", "--home", str(home))
    finally:
        cli("sim", "down", "--dir", str(cluster))


def observer_home(cluster: Path) -> str:
    return json.loads((cluster / "cluster.json").read_text())["observers"][0]["home"]


def wait_finished(setup: Setup, timeout_s: float = 60) -> str:
    with ObshellClient(setup.agent, password=PASSWORD) as client:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = client.request("GET", setup.dag_path, query={"show_details": "false"})["state"]
            if state in ("SUCCEED", "FAILED"):
                return state
            time.sleep(0.1)
    raise SystemExit(f"the bench DAG did not finish within {timeout_s:g} s")


# -- load ----------------------------------------------------------------------------------

@dataclass
class RunResult:
    latencies_ms: list[float]
    errors: int
    elapsed_s: float
    agent_cpu_s: float

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 0.99)

    def describe(self) -> str:
        count = len(self.latencies_ms)
        return (f"{count} requests in {self.elapsed_s:.1f} s ({count / self.elapsed_s:.0f}/s, {self.errors} errors): "
                f"p50 {self.p50:.1f} ms, p99 {self.p99:.1f} ms, max {max(self.latencies_ms):.1f} ms; "
                f"agent CPU {self.agent_cpu_s / count * 1000:.2f} ms/request")


Pacer = Callable[[], Awaitable[bool]]
"""Waits until a client's next request is due; False when the client should stop."""


async def run_clients(setup: Setup, clients: int, make_pacer: Callable[[int], Pacer]) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    ready = asyncio.Event()
    warmed = 0

    async def client_loop(index: int) -> None:
        nonlocal errors, warmed
        async with AsyncObshellClient(setup.agent, password=PASSWORD, timeout=30) as client:
            await client.request("GET", setup.dag_path)  # warm-up: public key, connection
            warmed += 1
            if warmed == clients:
                ready.set()
            await ready.wait()  # measure only once every client is connected
            pace = make_pacer(index)
            while await pace():
                start = time.perf_counter()
                response = await client.raw_request("GET", setup.dag_path)
                latencies.append((time.perf_counter() - start) * 1000)
                errors += response.status_code != 200

    await asyncio.gather(*(client_loop(index) for index in range(clients)))
    return latencies, errors


def closed_loop(total: int, seconds: float) -> Callable[[int], Pacer]:
    """Every client sends its next request at once, until ``total`` were sent or time is up."""
    sent = 0
    deadline: float | None = None  # set when the first client starts measuring

    def make(_index: int) -> Pacer:
        nonlocal deadline
        if deadline is None:
            deadline = time.monotonic() + seconds

        async def pace() -> bool:
            nonlocal sent
            assert deadline is not None
            if sent >= total or time.monotonic() >= deadline:
                return False
            sent += 1
            return True

        return pace

    return make


def every(interval_s: float, seconds: float) -> Callable[[int], Pacer]:
    """Each client polls every ``interval_s`` (random phase, no catch-up bursts) for ``seconds``."""

    def make(_index: int) -> Pacer:
        now = time.monotonic()
        end = now + seconds
        next_at = now + random.uniform(0, interval_s)

        async def pace() -> bool:
            nonlocal next_at
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.monotonic()
            next_at = max(next_at + interval_s, now)
            return now < end

        return pace

    return make


def measured(process: psutil.Process, load: Callable[[], tuple[list[float], int]]) -> RunResult:
    cpu_before, started = cpu_seconds(process), time.perf_counter()
    latencies, errors = load()
    return RunResult(latencies, errors, time.perf_counter() - started, cpu_seconds(process) - cpu_before)


def status_cpu_ms(setup: Setup, process: psutil.Process, calls: int) -> float:
    """Agent CPU per sequential GET /api/v1/status (public, no encryption)."""
    with ObshellClient(setup.agent, password=PASSWORD) as client:
        client.status()
        before = cpu_seconds(process)
        for _ in range(calls):
            client.status()
        return (cpu_seconds(process) - before) / calls * 1000


# -- figures -------------------------------------------------------------------------------

def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def rss_mb(process: psutil.Process, samples: int = 5) -> float:
    values = []
    for _ in range(samples):
        values.append(process.memory_info().rss / 2**20)
        time.sleep(0.2)
    return statistics.median(values)


def summary(name: str, runs: list[RunResult]) -> str:
    p50 = statistics.median(run.p50 for run in runs)
    p99 = statistics.median(run.p99 for run in runs)
    cpu = statistics.median(run.agent_cpu_s / len(run.latencies_ms) * 1000 for run in runs)
    verdict = "meets" if p99 <= GOAL_P99_MS else "misses"
    return (f"{name}: median over {len(runs)} runs: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
            f"({verdict} the goal p99 <= {GOAL_P99_MS:g} ms), agent CPU {cpu:.2f} ms/request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between two polls of one paced client")
    parser.add_argument("--runs", type=int, default=3, help="runs of each mode (the summary is their median)")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit of one run")
    parser.add_argument("--requests", type=int, default=3000, help="most requests of one saturation run")
    parser.add_argument("--status-calls", type=int, default=100, help="sequential GET /api/v1/status for its CPU cost")
    parser.add_argument("--nodes", type=int, default=10, help="nodes of the DAG that is read")
    parser.add_argument("--net", type=int, default=79, help="loopback network 127.<net>.x.x")
    parser.add_argument("--mode", choices=("both", "paced", "saturation"), default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, agent_with_dag(Path(tmp), args.net, args.nodes) as setup:
        print(f"bench DAG {setup.gid} ({args.nodes} nodes): {wait_finished(setup)}")
        process = psutil.Process(setup.pid)
        time.sleep(2)  # let start-up garbage settle
        cpu_before, started = cpu_seconds(process), time.perf_counter()
        idle = rss_mb(process, samples=10)
        idle_cpu = (cpu_seconds(process) - cpu_before) / (time.perf_counter() - started)
        print(f"idle agent RSS: {idle:.1f} MB (goal: <= {GOAL_RSS_MB:g} MB); idle agent CPU: {idle_cpu:.1%} of a core")
        print(f"GET /api/v1/status: agent CPU {status_cpu_ms(setup, process, args.status_calls):.2f} ms per call")
        modes = {
            "paced": lambda: every(args.interval, args.seconds),
            "saturation": lambda: closed_loop(args.requests, args.seconds),
        }
        summaries = []
        for name, pacing in modes.items():
            if args.mode not in ("both", name):
                continue
            title = (f"{args.clients} clients each every {args.interval:g} s" if name == "paced"
                     else f"{args.clients} clients in a closed loop")
            print(f"GET /api/v1/task/dag/{{id}}, {name} ({title}):")
            runs = []
            for run in range(1, args.runs + 1):
                result = measured(process, lambda: asyncio.run(run_clients(setup, args.clients, pacing())))
                runs.append(result)
                print(f"  run {run}: {result.describe()}")
            summaries.append(summary(name, runs))
        for line in summaries:
            print(line)
        print(f"agent RSS: idle {idle:.1f} MB, after the load {rss_mb(process):.1f} MB "
              f"({os.cpu_count()} cores shared by the agent, the clients and the observer)")


if __name__ == "__main__":
    main()
