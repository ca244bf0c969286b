"""Simulator figures: `sim up` time (3x1, 3x3), query rate on one observer, observer RSS.

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
            rss = observer_rss_mb(directory / "hosts" / "127.251.1.1" / "oceanbase")
            print(f"one observer's RSS after the query runs: {rss:.1f} MiB")
        finally:
            sim("down", "--dir", str(directory))


if __name__ == "__main__":
    main()
