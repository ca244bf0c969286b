"""Stage-transition latency of the task engine: a 50-node serial DAG of no-op tasks.

A transition is the time from one sub-task's end to the next sub-task's start, as stored in
the task tables (it covers the finish write, the scheduler wake-up, the node and stage
updates, the READY write, the dispatch and the worker's start). Prints the median and p99 of
each run and the median over runs. Goal: median <= 20 ms.

    python bench/engine_bench.py [--runs 5] [--nodes 50] [--url sqlite:///path.db]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from pyobshell.engine import AgentInfo, Task, TaskEngine, TaskRegistry, TaskStore, TemplateBuilder
from pyobshell.engine.schema import StoreKind


class NoOp(Task):
    def execute(self) -> None:
        pass


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


async def one_run(url: str, nodes: int) -> list[float]:
    registry = TaskRegistry()
    registry.register(NoOp)
    engine = TaskEngine(TaskStore(url, StoreKind.LOCAL, owner=AgentInfo("127.0.0.1", 2886)), registry)
    await engine.start()
    try:
        builder = TemplateBuilder("bench")
        for index in range(nodes):
            builder.add_task(NoOp(name=f"noop-{index}"))
        gid = engine.create_dag(builder.build()).id
        deadline = time.monotonic() + 120
        while engine.service.get_dag(gid, show_details=False).state not in ("SUCCEED", "FAILED"):
            if time.monotonic() > deadline:
                raise SystemExit("the benchmark DAG did not finish within 120 s")
            await asyncio.sleep(0.05)
        dag_id = int(engine.service.row_id(gid))
        with engine.store.transaction() as conn:
            nodes = engine.store.nodes_of_dag(conn, dag_id)
            tasks = [engine.store.subtasks_of_node(conn, node.id)[0] for node in nodes]
    finally:
        await engine.stop()
        engine.close()
    gaps = []
    for before, after in zip(tasks, tasks[1:], strict=False):
        assert before.end_time is not None and after.start_time is not None
        gaps.append((after.start_time - before.end_time).total_seconds() * 1000)
    return gaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--url", help="store URL (default: a fresh SQLite file per run)")
    args = parser.parse_args()
    medians, p99s = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(1, args.runs + 1):
            url = args.url or f"sqlite:///{Path(tmp) / f'bench-{run}.db'}"
            gaps = asyncio.run(one_run(url, args.nodes))
            medians.append(statistics.median(gaps))
            p99s.append(percentile(gaps, 0.99))
            print(f"run {run}: {len(gaps)} transitions, median {medians[-1]:.2f} ms, p99 {p99s[-1]:.2f} ms")
    print(f"stage transition over {args.runs} runs: median {statistics.median(medians):.2f} ms, "
          f"p99 {statistics.median(p99s):.2f} ms (goal: median <= 20 ms)")


if __name__ == "__main__":
    main()
