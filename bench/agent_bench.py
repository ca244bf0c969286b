"""Agent figures: GET /api/v1/task/dag/{id} latency under concurrent clients, and idle RSS.

Starts a one-observer simulated cluster (loopback 127.<net>.1.1) and a real agent beside it,
writes a finished-to-be DAG into the agent's SQLite store before the agent starts (its task type
comes from this very file, loaded by the agent through PYOBSHELL_TASK_MODULES), then:

* idle RSS of the agent process once the DAG has finished (goal: <= 80 MB);
* ``--clients`` concurrent clients (httpx async, every request encrypted and verified like a
  real client's, root password) each sending ``GET /api/v1/task/dag/{id}`` (with details) until
  ``--requests`` in total or ``--seconds`` have passed: p50, p99, max (goal: p99 <= 20 ms).

Nothing is asserted. Run: ``.venv/bin/python bench/agent_bench.py [--clients 50] [--requests 5000]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from pyobshell.agent_home import AgentHome
from pyobshell.agent_tasks import TASK_MODULES_ENV
from pyobshell.client import AsyncObshellClient, ObshellClient
from pyobshell.engine import DEFAULT_REGISTRY, AgentInfo, StoreKind, Task, TaskService, TaskStore, TemplateBuilder

PYOBSHELL = [sys.executable, "-m", "pyobshell.cli.main"]
PASSWORD = "benchpw"
AGENT_PORT = 2886


class BenchStep(Task):
    """A short step that logs, so the DAG DTO carries nodes, sub-tasks and logs."""

    def execute(self) -> None:
        self.log_info(f"{self.task_name} done")


if "BenchStep" not in DEFAULT_REGISTRY:  # imported twice when run as a script (main + module)
    DEFAULT_REGISTRY.register(BenchStep)


def cli(*args: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run([*PYOBSHELL, *args], capture_output=True, text=True, timeout=300, env=env)
    if result.returncode != 0:
        raise SystemExit(f"pyobshell {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


@dataclass
class Setup:
    ip: str
    gid: str
    pid: int


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
        env = dict(os.environ, OB_ROOT_PASSWORD=PASSWORD, **{TASK_MODULES_ENV: "agent_bench"})
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
    with ObshellClient(f"{setup.ip}:{AGENT_PORT}", password=PASSWORD) as client:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = client.request("GET", f"/api/v1/task/dag/{setup.gid}", query={"show_details": "false"})["state"]
            if state in ("SUCCEED", "FAILED"):
                return state
            time.sleep(0.1)
    raise SystemExit(f"the bench DAG did not finish within {timeout_s:g} s")


async def load(setup: Setup, clients: int, total: int, seconds: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    sent = 0
    deadline = time.monotonic() + seconds
    path = f"/api/v1/task/dag/{setup.gid}"

    async def worker() -> None:
        nonlocal sent, errors
        async with AsyncObshellClient(f"{setup.ip}:{AGENT_PORT}", password=PASSWORD, timeout=30) as client:
            await client.request("GET", path)  # warm-up: public key, connection
            while sent < total and time.monotonic() < deadline:
                sent += 1
                start = time.perf_counter()
                response = await client.raw_request("GET", path)
                latencies.append((time.perf_counter() - start) * 1000)
                errors += response.status_code != 200

    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, errors


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=5000, help="total requests (bounded)")
    parser.add_argument("--seconds", type=float, default=60.0, help="time limit of the load phase")
    parser.add_argument("--nodes", type=int, default=10, help="nodes of the DAG that is read")
    parser.add_argument("--net", type=int, default=79, help="loopback network 127.<net>.x.x")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, agent_with_dag(Path(tmp), args.net, args.nodes) as setup:
        print(f"bench DAG {setup.gid}: {wait_finished(setup)}")
        time.sleep(2)  # let start-up garbage settle
        process = psutil.Process(setup.pid)
        idle_rss = process.memory_info().rss / 2**20
        print(f"idle agent RSS: {idle_rss:.1f} MB (goal: <= 80 MB)")
        cpu_before, started = cpu_seconds(process), time.perf_counter()
        latencies, errors = asyncio.run(load(setup, args.clients, args.requests, args.seconds))
        elapsed, agent_cpu = time.perf_counter() - started, cpu_seconds(process) - cpu_before
        print(f"GET /api/v1/task/dag/{{id}} x {len(latencies)} by {args.clients} clients in {elapsed:.1f} s "
              f"({len(latencies) / elapsed:.0f} req/s, {errors} errors): p50 {statistics.median(latencies):.1f} ms, "
              f"p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms (goal: p99 <= 20 ms)")
        print(f"agent CPU per request: {agent_cpu / len(latencies) * 1000:.2f} ms "
              f"({agent_cpu / elapsed:.0%} of one core; {os.cpu_count()} cores shared with the clients and the observer)")
        print(f"agent RSS after the load: {process.memory_info().rss / 2**20:.1f} MB")


if __name__ == "__main__":
    main()
