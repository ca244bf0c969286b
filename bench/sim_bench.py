"""Simulator figures: `sim up` time (3x1, 3x3), query rate and statement latency on one observer,
observer RSS.

Run: `.venv/bin/python bench/sim_bench.py [--runs N]`. Prints medians of N runs; nothing is
asserted. Uses loopback networks 127.250.x.x and 127.251.x.x, and the realistic delays of the
demo (so `sim up` includes the simulated start-up and log catch-up of the observers).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import psutil
import pymysql

PYOBSHELL = [sys.executable, "-m", "pyobshell.cli.main"]
PASSWORD = "benchpw"


def sim(*args: str) -> None:
    subprocess.run([*PYOBSHELL, "sim", *args], check=True, capture_output=True, text=True, timeout=300)


def time_sim_up(zones: int, per_zone: int, net: int, profile: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "cluster"
        start = time.perf_counter()
        sim("up", "--dir", str(directory), "--zones", str(zones), "--servers-per-zone", str(per_zone),
            "--root-password", PASSWORD, "--net", str(net), "--no-agents", "--profile", profile)
        elapsed = time.perf_counter() - start
        sim("down", "--dir", str(directory))
        return elapsed


def query_rate(ip: str, seconds: float) -> float:
    conn = pymysql.connect(host=ip, port=2881, user="root@sys", password=PASSWORD, autocommit=True)
    count, deadline = 0, time.perf_counter() + seconds
    start = time.perf_counter()
    with conn, conn.cursor() as cursor:
        while time.perf_counter() < deadline:
            cursor.execute("select count(*) from oceanbase.DBA_OB_SERVERS")
            cursor.fetchall()
            count += 1
    return count / (time.perf_counter() - start)


_TASK_DDL = ("CREATE TABLE IF NOT EXISTS task (id BIGINT NOT NULL AUTO_INCREMENT, node_id BIGINT NOT NULL,"
             " name VARCHAR(64), struct_name VARCHAR(128), executer_agent_ip VARCHAR(64), executer_agent_port INT,"
             " execute_times INT NOT NULL DEFAULT 0, can_cancel BOOL, can_continue BOOL, can_pass BOOL, can_retry BOOL,"
             " can_rollback BOOL, context TEXT, state INT NOT NULL, operator INT, gmt_modify DATETIME(6), PRIMARY KEY (id))")
_TASK_STATEMENTS = {  # INSERT first: the others work on its rows
    "INSERT": ("INSERT INTO task (node_id, name, struct_name, context, state) VALUES (%s, %s, %s, %s, %s)",
               lambda i: (i, f"task {i}", "S", f'{{"line": "it\'s {i}"}}', 1)),
    "15-column SELECT by id": ("SELECT id, node_id, name, struct_name, executer_agent_ip, executer_agent_port,"
                               " execute_times, can_cancel, can_continue, can_pass, can_retry, can_rollback, context,"
                               " state, operator FROM task WHERE id = %s", lambda i: (i,)),
    "UPDATE with 4 conditions": ("UPDATE task SET state = %s, gmt_modify = %s WHERE id = %s AND node_id = %s"
                                 " AND execute_times = %s AND state = %s", lambda i: (2, datetime.now(), i, i, 0, 1)),
}


def statement_latency_ms(ip: str, count: int = 300) -> dict[str, float]:
    """Median latency of task-store statement shapes on a user database, each sent with new
    values (PyMySQL interpolates them, so every statement text differs)."""
    conn = pymysql.connect(host=ip, port=2881, user="root@sys", password=PASSWORD, autocommit=True)
    medians = {}
    with conn, conn.cursor() as cursor:
        cursor.execute("CREATE DATABASE IF NOT EXISTS bench")
        cursor.execute("USE bench")
        cursor.execute(_TASK_DDL)
        for name, (sql, values) in _TASK_STATEMENTS.items():
            times = []
            for i in range(1, count + 1):
                start = time.perf_counter()
                cursor.execute(sql, values(i))
                cursor.fetchall()
                times.append(time.perf_counter() - start)
            medians[name] = statistics.median(times) * 1000
    return medians


def observer_rss_mb(home: Path) -> float:
    pid = int((home / "run" / "observer.pid").read_text())
    return psutil.Process(pid).memory_info().rss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", default="realistic", choices=("realistic", "fast"))
    args = parser.parse_args()

    for zones, per_zone in ((3, 1), (3, 3)):
        times = [time_sim_up(zones, per_zone, 250, args.profile) for _ in range(args.runs)]
        print(f"sim up {zones}x{per_zone} ({args.profile} delays): median {statistics.median(times):.2f} s "
              f"(runs: {', '.join(f'{t:.2f}' for t in times)})")

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "cluster"
        sim("up", "--dir", str(directory), "--zones", "3", "--root-password", PASSWORD, "--net", "251",
            "--no-agents", "--profile", "fast")
        try:
            rates = [query_rate("127.251.1.1", 3.0) for _ in range(args.runs)]
            print(f"select count(*) from oceanbase.DBA_OB_SERVERS on one observer: median {statistics.median(rates):.0f} "
                  f"queries/s (runs: {', '.join(f'{r:.0f}' for r in rates)})")
            for name, median in statement_latency_ms("127.251.1.1").items():
                print(f"{name} on a user database, new values each time: median {median:.2f} ms")
            rss = observer_rss_mb(directory / "hosts" / "127.251.1.1" / "oceanbase")
            print(f"one observer's RSS after the query runs: {rss:.1f} MiB")
        finally:
            sim("down", "--dir", str(directory))


if __name__ == "__main__":
    main()
